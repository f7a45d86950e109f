package main

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The canonical dump line is byte-identical to Python's `DumpRecord.to_line` (torghut_sim/dump/record.py):
// json.dumps with sorted keys, compact separators and the default ensure_ascii escaping.

const hexDigits = "0123456789abcdef"

// shortEscapes holds, for the characters json.dumps writes as a two-character escape, its second character.
var shortEscapes = [0x80]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f'}

// appendJSONString appends s as a JSON string escaped exactly like Python's json.dumps(ensure_ascii=True).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r < 0x80 && shortEscapes[r] != 0:
			dst = append(dst, '\\', shortEscapes[r])
		case r >= 0x20 && r <= 0x7e:
			// Python escapes everything outside ' '..'~', DEL (0x7f) included.
			dst = append(dst, byte(r))
		case r > 0xffff:
			// Above the BMP Python writes the UTF-16 surrogate pair.
			v := r - 0x10000
			dst = appendU4(dst, 0xd800|((v>>10)&0x3ff))
			dst = appendU4(dst, 0xdc00|(v&0x3ff))
		default:
			dst = appendU4(dst, r)
		}
	}
	return append(dst, '"')
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[(r>>12)&0xf], hexDigits[(r>>8)&0xf], hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
}

// jsonOpenString is the JSON string of s without its closing quote: the offset is appended after it.
func jsonOpenString(s string) []byte {
	full := appendJSONString(nil, s)
	return full[:len(full)-1]
}

// lineEncoder holds the constant parts of the lines of one source partition.
type lineEncoder struct {
	eventPrefix []byte // {"dataset_event_id":"<topic>:<partition>:
	replayPart  []byte // ,"replay_topic":"...","source_offset":
	partPart    []byte // ,"source_partition":N,"source_timestamp_ms":
	topicPart   []byte // ,"source_topic":"...","value_b64":
}

// b64Len is the length of the base64 of n bytes.
func b64Len(n int) int { return (n + 2) / 3 * 4 }

// maxLen bounds the length of a record's line and its newline, so it can be encoded in place.
func (e *lineEncoder) maxLen(key, value []byte, headers []kgo.RecordHeader) int {
	// Constant parts, three integers of at most 20 characters, two quoted-or-null fields, the newline.
	n := len(e.eventPrefix) + len(e.replayPart) + len(e.partPart) + len(e.topicPart) + 64 + 3*20 + 2*6
	n += b64Len(len(key)) + b64Len(len(value))
	for _, h := range headers {
		// `["name",null],`: a name byte escapes to at most 6 bytes (\u00XX, or a surrogate pair of 12
		// for 4 UTF-8 bytes).
		n += 12 + 6*len(h.Key) + b64Len(len(h.Value))
	}
	return n
}

func newLineEncoder(topic string, partition int32, replayTopic string) lineEncoder {
	event := append([]byte(`{"dataset_event_id":`), jsonOpenString(topic+":"+strconv.Itoa(int(partition))+":")...)
	replay := appendJSONString([]byte(`,"replay_topic":`), replayTopic)
	replay = append(replay, `,"source_offset":`...)
	part := strconv.AppendInt([]byte(`,"source_partition":`), int64(partition), 10)
	part = append(part, `,"source_timestamp_ms":`...)
	topicPart := appendJSONString([]byte(`,"source_topic":`), topic)
	topicPart = append(topicPart, `,"value_b64":`...)
	return lineEncoder{eventPrefix: event, replayPart: replay, partPart: part, topicPart: topicPart}
}

// appendB64 appends the JSON form of optional bytes: null, or their standard padded base64 as a string.
func appendB64(dst, data []byte) []byte {
	if data == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = appendBase64(dst, data)
	return append(dst, '"')
}

// b64Pairs maps 12 bits to their two base64 characters (little-endian), halving the lookups.
var b64Pairs = func() (t [4096]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6]) | uint16(alphabet[i&63])<<8
	}
	return t
}()

// appendBase64 appends standard padded base64, ~1.6x faster than encoding/base64 on values of a few
// hundred bytes (base64 is a tenth of the dump's CPU); the tail goes through encoding/base64.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	i, j := 0, 0
	// 6 input bytes to 8 characters per step, reading 8 (so 2 bytes of slack are needed).
	for ; i+8 <= len(src); i, j = i+6, j+8 {
		v := binary.BigEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(out[j:], uint64(b64Pairs[v>>52])|uint64(b64Pairs[(v>>40)&0xfff])<<16|
			uint64(b64Pairs[(v>>28)&0xfff])<<32|uint64(b64Pairs[(v>>16)&0xfff])<<48)
	}
	base64.StdEncoding.Encode(out[j:], src[i:])
	return dst[:len(dst)+n]
}

// appendLine appends the canonical line of one record (without its newline).
func (e *lineEncoder) appendLine(dst []byte, offset, timestampMs int64, key, value []byte, headers []kgo.RecordHeader) []byte {
	dst = append(dst, e.eventPrefix...)
	dst = strconv.AppendInt(dst, offset, 10)
	dst = append(dst, `","headers":[`...)
	for i, h := range headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendJSONString(dst, h.Key)
		dst = append(dst, ',')
		dst = appendB64(dst, h.Value)
		dst = append(dst, ']')
	}
	dst = append(dst, `],"key_b64":`...)
	dst = appendB64(dst, key)
	dst = append(dst, e.replayPart...)
	dst = strconv.AppendInt(dst, offset, 10)
	dst = append(dst, e.partPart...)
	dst = strconv.AppendInt(dst, timestampMs, 10)
	dst = append(dst, e.topicPart...)
	dst = appendB64(dst, value)
	return append(dst, '}')
}
