package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// referenceLine parses a dump line with encoding/json, the way the Python replay reads it.
type referenceLine struct {
	SourceTopic     string       `json:"source_topic"`
	SourcePartition int64        `json:"source_partition"`
	SourceTimestamp int64        `json:"source_timestamp_ms"`
	KeyB64          *string      `json:"key_b64"`
	ValueB64        *string      `json:"value_b64"`
	Headers         [][2]*string `json:"headers"`
}

func decodeOrNil(t *testing.T, text *string) []byte {
	t.Helper()
	if text == nil {
		return nil
	}
	out, err := base64.StdEncoding.DecodeString(*text)
	if err != nil {
		t.Fatalf("reference base64: %v", err)
	}
	return out
}

func parseOne(t *testing.T, line string) *lineParser {
	t.Helper()
	p := &lineParser{sources: map[string]int{"src.trades": 0, "src.ünï": 1}, arena: make([]byte, 0, len(line))}
	if err := p.parse([]byte(line)); err != nil {
		t.Fatalf("parse %s: %v", line, err)
	}
	return p
}

func TestParserMatchesEncodingJSON(t *testing.T) {
	lines := []string{
		`{"dataset_event_id":"src.trades:0:1","headers":[],"key_b64":"TlZEQQ==","replay_topic":"x","source_offset":1,"source_partition":0,"source_timestamp_ms":1772807400000,"source_topic":"src.trades","value_b64":"eyJwIjoxfQ=="}`,
		`{"source_topic":"src.trades","headers":[["trace","AAE="],["empty",null],["n\u00e4me",""]],"key_b64":null,"value_b64":null,"source_partition":7,"source_timestamp_ms":-5}`,
		"{ \"value_b64\" : \"\" , \"key_b64\" : \"\",\t\"headers\" : null, \"extra\": {\"a\": [1, 2.5e3, true, false, null, \"s\\\"\"]},\r\n \"source_topic\": \"src.\\u00fcn\\u00ef\", \"source_partition\": 2, \"source_timestamp_ms\": 0 }",
		`{"headers":[["\ud83d\ude00",  "AP8="]],"key_b64":"a2V5","value_b64":"dmFs\/w==","source_partition":0,"source_timestamp_ms":1,"source_topic":"src.trades"}`,
		`{"source_topic":"src.trades","source_topic":"src.trades","source_partition":1,"source_timestamp_ms":2,"key_b64":"AA==","key_b64":"AQ==","value_b64":"Ag==","headers":[]}`,
	}
	for _, line := range lines {
		var ref referenceLine
		if err := json.Unmarshal([]byte(line), &ref); err != nil {
			t.Fatalf("reference parse %s: %v", line, err)
		}
		p := parseOne(t, line)
		if want := p.sources[ref.SourceTopic]; p.topic != want {
			t.Errorf("%s: topic %d, want %d", line, p.topic, want)
		}
		if p.partition != ref.SourcePartition || p.timestamp != ref.SourceTimestamp {
			t.Errorf("%s: partition/timestamp %d/%d", line, p.partition, p.timestamp)
		}
		for name, pair := range map[string][2][]byte{
			"key":   {p.key, decodeOrNil(t, ref.KeyB64)},
			"value": {p.value, decodeOrNil(t, ref.ValueB64)},
		} {
			if !bytes.Equal(pair[0], pair[1]) || (pair[0] == nil) != (pair[1] == nil) {
				t.Errorf("%s: %s %q (nil %v), want %q", line, name, pair[0], pair[0] == nil, pair[1])
			}
		}
		if len(p.headers) != len(ref.Headers) {
			t.Fatalf("%s: %d headers, want %d", line, len(p.headers), len(ref.Headers))
		}
		for i, h := range ref.Headers {
			want := decodeOrNil(t, h[1])
			got := p.headers[i]
			if got.Key != *h[0] || !bytes.Equal(got.Value, want) || (got.Value == nil) != (want == nil) {
				t.Errorf("%s: header %d = %q/%q, want %q/%q", line, i, got.Key, got.Value, *h[0], want)
			}
		}
	}
}

func TestParserRefusesWhatIsNotADumpRecord(t *testing.T) {
	valid := `"source_topic":"src.trades","source_partition":0,"source_timestamp_ms":1,"key_b64":null,"value_b64":null,"headers":[]`
	bad := map[string]string{
		"not json":            `not json`,
		"array":               `[1,2]`,
		"truncated":           `{` + valid,
		"trailing data":       `{` + valid + `}x`,
		"missing field":       `{"source_topic":"src.trades","source_partition":0,"source_timestamp_ms":1,"key_b64":null,"headers":[]}`,
		"float partition":     `{` + valid + `,"source_partition":1.5}`,
		"string timestamp":    `{` + valid + `,"source_timestamp_ms":"1"}`,
		"leading zero":        `{` + valid + `,"source_partition":01}`,
		"bad base64":          `{` + valid + `,"value_b64":"abc"}`,
		"raw CR in base64":    "{" + valid + ",\"value_b64\":\"AA\r==\"}",
		"control char":        "{" + valid + ",\"x\":\"a\tb\"}",
		"bad escape":          `{` + valid + `,"x":"\q"}`,
		"lone surrogate":      `{` + valid + `,"headers":[["\ud800","AA=="]]}`,
		"header not a pair":   `{` + valid + `,"headers":[["a"]]}`,
		"header triple":       `{` + valid + `,"headers":[["a",null,null]]}`,
		"bad number":          `{` + valid + `,"x":-}`,
		"bad literal":         `{` + valid + `,"x":nul}`,
		"missing colon":       `{"source_topic" "src.trades"}`,
		"key not a string":    `{` + valid + `,"key_b64":5}`,
		"headers not a list":  `{` + valid + `,"headers":{}}`,
		"unterminated string": `{"source_topic":"src.trades`,
		"invalid UTF-8":       "{" + valid + ",\"x\":\"\xff\"}",
	}
	for name, line := range bad {
		p := &lineParser{sources: map[string]int{"src.trades": 0}, arena: make([]byte, 0, len(line))}
		if err := p.parse([]byte(line)); err == nil {
			t.Errorf("%s: %s parsed", name, line)
		}
	}
}

func TestUnknownTopicIsNamedNotRefusedByTheParser(t *testing.T) {
	p := &lineParser{sources: map[string]int{}, arena: make([]byte, 0, 256)}
	line := `{"source_topic":"other","source_partition":0,"source_timestamp_ms":1,"key_b64":null,"value_b64":null,"headers":[]}`
	if err := p.parse([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if p.topic != -1 || p.unknownTopic != "other" {
		t.Fatalf("topic %d %q", p.topic, p.unknownTopic)
	}
}

func TestStripLinesHashesLikePython(t *testing.T) {
	for _, body := range []string{
		"{\"a\":1}\n{\"b\":2}\n",
		"  {\"a\":1} \t\n\n\r\n\v{\"b\":2}\f\r\n   \n",
		"\n\n",
		"{\"a\":1}\n \n",
	} {
		var want bytes.Buffer
		lines := 0
		for _, raw := range strings.Split(body, "\n") {
			if s := strings.Trim(raw, " \t\n\r\v\f"); s != "" {
				want.WriteString(s + "\n")
				lines++
			}
		}
		got, n := stripLines([]byte(body))
		if string(got) != want.String() || n != lines {
			t.Errorf("%q: got %q (%d lines), want %q (%d)", body, got, n, want.String(), lines)
		}
		if sha256.Sum256(got) != sha256.Sum256(want.Bytes()) {
			t.Errorf("%q: hash differs", body)
		}
	}
}

func TestChoosePartitionFollowsLibrdkafkaConsistentRandom(t *testing.T) {
	if got := choosePartition(2, []byte("NVDA"), 3); got != 2 {
		t.Fatalf("kept partition %d", got)
	}
	key := []byte("NVDA")
	if got, want := choosePartition(5, key, 3), int32(crc32.ChecksumIEEE(key)%3); got != want {
		t.Fatalf("keyed partition %d, want %d", got, want)
	}
	seen := map[int32]bool{}
	for range 200 {
		p := choosePartition(9, nil, 4)
		if p < 0 || p >= 4 {
			t.Fatalf("partition %d out of range", p)
		}
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Fatalf("null keys always went to %v", seen)
	}
}

func TestParseBlockBuildsRecords(t *testing.T) {
	plan := &replayPlan{sources: map[string]int{"s": 0}, targets: []replayTarget{{topic: "t", partitions: 2}}}
	data := []byte(`{"source_topic":"s","source_partition":1,"source_timestamp_ms":1772807400123,"key_b64":"aw==","value_b64":"dg==","headers":[]}` + "\n" +
		`{"source_topic":"s","source_partition":0,"source_timestamp_ms":0,"key_b64":"aw==","value_b64":"dg==","headers":[]}` + "\n")
	batch, err := newBatchParser(plan, "d.ndjson", 1).parseBlock(lineBlock{data: data, lines: 2, first: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := batch.records[0]
	if first.Topic != "t" || first.Partition != 1 || first.Timestamp.UnixMilli() != 1772807400123 ||
		string(first.Key) != "k" || string(first.Value) != "v" || batch.counts[0] != 2 {
		t.Fatalf("record %+v, counts %v", first, batch.counts)
	}
	if !batch.records[1].Timestamp.IsZero() {
		t.Fatalf("a zero timestamp must be left for the client to stamp, got %v", batch.records[1].Timestamp)
	}
	_, err = newBatchParser(plan, "d.ndjson", 1).parseBlock(lineBlock{data: []byte("{}\n"), lines: 1, first: 7})
	var f *Failure
	if !errors.As(err, &f) || f.Reason != "replay_dump_invalid" || !strings.Contains(f.Message, "line 7") {
		t.Fatalf("error %v", err)
	}
}
