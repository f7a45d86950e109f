package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordBatch is the records of one block, ready to produce, and how many go to each target.
type recordBatch struct {
	records []kgo.Record
	counts  []int64
}

// batchParser turns blocks of dump lines into records on worker goroutines, handing them on in file order.
type batchParser struct {
	plan    *replayPlan
	path    string
	workers int
	mu      sync.Mutex
	failed  error
}

func newBatchParser(plan *replayPlan, path string, workers int) *batchParser {
	return &batchParser{plan: plan, path: path, workers: max(workers, 1)}
}

func (p *batchParser) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *batchParser) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == nil {
		p.failed = err
	}
}

type parseResult struct {
	batch *recordBatch
	err   error
}

type parseWork struct {
	block  lineBlock
	result chan parseResult
}

// start parses blocks until they end, the context is cancelled or a line is invalid (then err() tells).
func (p *batchParser) start(ctx context.Context, blocks <-chan lineBlock, recycle func([]byte)) <-chan *recordBatch {
	out := make(chan *recordBatch, 4)
	work := make(chan parseWork, p.workers)
	// Results in file order: one slot per block, queued in the order the blocks were read.
	order := make(chan chan parseResult, 2*p.workers+2)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range work {
				batch, err := p.parseBlock(item.block)
				recycle(item.block.data)
				item.result <- parseResult{batch, err}
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(work)
		for block := range blocks {
			slot := make(chan parseResult, 1)
			select {
			case order <- slot:
			case <-ctx.Done():
				return
			}
			work <- parseWork{block, slot}
		}
	}()
	go func() {
		defer close(out)
		defer func() {
			// Let the workers finish what they hold so no goroutine is left blocked.
			go func() {
				for range order {
				}
				wg.Wait()
			}()
		}()
		for slot := range order {
			result := <-slot
			if result.err != nil {
				p.fail(result.err)
				return
			}
			select {
			case out <- result.batch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// parseBlock parses every line of a block; the error names the first line that is not a dump record.
func (p *batchParser) parseBlock(block lineBlock) (*recordBatch, error) {
	batch := &recordBatch{records: make([]kgo.Record, block.lines), counts: make([]int64, len(p.plan.targets))}
	// Decoded bytes never outgrow their base64 text: one arena per block holds every key and value.
	line := lineParser{sources: p.plan.sources, arena: make([]byte, 0, len(block.data))}
	data := block.data
	for i := range batch.records {
		end := bytes.IndexByte(data, '\n')
		if err := line.parse(data[:end]); err != nil {
			return nil, failure("replay_dump_invalid", "%s is not a dump record: %v",
				describeLine(p.path, block.first+int64(i)), err)
		}
		data = data[end+1:]
		if line.topic < 0 {
			return nil, failure("replay_unknown_topic",
				"dump record from %s, which is not a replayed source topic", line.unknownTopic)
		}
		target := &p.plan.targets[line.topic]
		rec := &batch.records[i]
		rec.Topic = target.topic
		rec.Key = line.key
		rec.Value = line.value
		rec.Headers = line.headers
		// librdkafka (the Python replay) stamps a zero timestamp with the current time; so does franz-go.
		if line.timestamp != 0 {
			rec.Timestamp = time.UnixMilli(line.timestamp)
		}
		rec.Partition = choosePartition(line.partition, line.key, target.partitions)
		batch.counts[line.topic]++
	}
	return batch, nil
}

// choosePartition keeps the source partition when the target has it, else chooses as librdkafka's
// default consistent_random partitioner: CRC-32 (IEEE) of the key modulo the count, random for an
// empty or null key.
func choosePartition(source int64, key []byte, partitions int) int32 {
	if source >= 0 && source < int64(partitions) {
		return int32(source)
	}
	if len(key) == 0 {
		return int32(rand.IntN(partitions))
	}
	return int32(crc32.ChecksumIEEE(key) % uint32(partitions))
}

const (
	fieldTopic = 1 << iota
	fieldPartition
	fieldTimestamp
	fieldKey
	fieldValue
	fieldHeaders
	fieldsRequired = fieldTopic | fieldPartition | fieldTimestamp | fieldKey | fieldValue | fieldHeaders
)

var fieldNames = [...]string{"source_topic", "source_partition", "source_timestamp_ms", "key_b64", "value_b64", "headers"}

const maxDepth = 64

// lineParser reads the fields of one dump line: any JSON object with them, in any order and spacing.
// Keys, values and header values are decoded into the arena; other fields are validated and skipped.
type lineParser struct {
	sources map[string]int
	arena   []byte
	scratch []byte
	b       []byte
	i       int

	seen         int
	topic        int
	unknownTopic string
	partition    int64
	timestamp    int64
	key, value   []byte
	headers      []kgo.RecordHeader
}

func (p *lineParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s at byte %d", fmt.Sprintf(format, args...), p.i+1)
}

func (p *lineParser) parse(line []byte) error {
	p.b, p.i = line, 0
	p.seen, p.topic, p.unknownTopic = 0, -1, ""
	p.key, p.value, p.headers = nil, nil, nil
	// orjson refuses invalid UTF-8 anywhere in a line; one check here spares one per string.
	if !utf8.Valid(line) {
		return fmt.Errorf("the line is not valid UTF-8")
	}
	p.ws()
	if !p.eat('{') {
		return p.errorf("not a JSON object")
	}
	p.ws()
	if !p.eat('}') {
		for {
			name, err := p.str()
			if err != nil {
				return err
			}
			p.ws()
			if !p.eat(':') {
				return p.errorf("expected ':'")
			}
			p.ws()
			if err := p.field(name); err != nil {
				return err
			}
			p.ws()
			if p.eat(',') {
				p.ws()
				continue
			}
			if p.eat('}') {
				break
			}
			return p.errorf("expected ',' or '}'")
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return p.errorf("unexpected data after the object")
	}
	if missing := fieldsRequired &^ p.seen; missing != 0 {
		for bit, name := range fieldNames {
			if missing&(1<<bit) != 0 {
				return fmt.Errorf("the record lacks %q", name)
			}
		}
	}
	return nil
}

// field reads the value of one member; name may live in the scratch buffer, so it is used first.
func (p *lineParser) field(name []byte) error {
	var err error
	switch string(name) {
	case "source_topic":
		var topic []byte
		if topic, err = p.str(); err != nil {
			return err
		}
		index, known := p.sources[string(topic)]
		p.topic = index
		if !known {
			p.topic, p.unknownTopic = -1, string(topic)
		}
		p.seen |= fieldTopic
	case "source_partition":
		p.partition, err = p.integer()
		p.seen |= fieldPartition
	case "source_timestamp_ms":
		p.timestamp, err = p.integer()
		p.seen |= fieldTimestamp
	case "key_b64":
		p.key, err = p.bytesOrNull()
		p.seen |= fieldKey
	case "value_b64":
		p.value, err = p.bytesOrNull()
		p.seen |= fieldValue
	case "headers":
		p.headers, err = p.headerList()
		p.seen |= fieldHeaders
	default:
		err = p.skip(0)
	}
	return err
}

func (p *lineParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *lineParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *lineParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// stringStop marks the bytes that end the plain run of a JSON string: quote, backslash, control.
var stringStop = func() (stop [256]bool) {
	for c := range 0x20 {
		stop[c] = true
	}
	stop['"'], stop['\\'] = true, true
	return stop
}()

// str reads a JSON string; the result aliases the line or, when it had escapes, the scratch buffer.
func (p *lineParser) str() ([]byte, error) {
	if !p.eat('"') {
		return nil, p.errorf("expected a string")
	}
	start := p.i
	j := start
	for j < len(p.b) && !stringStop[p.b[j]] {
		j++
	}
	switch {
	case j == len(p.b):
		p.i = j
		return nil, p.errorf("unterminated string")
	case p.b[j] == '"':
		p.i = j + 1
		return p.b[start:j], nil
	case p.b[j] == '\\':
		p.i = j
		return p.unescape(start)
	}
	p.i = j
	return nil, p.errorf("control character in a string")
}

// unescape decodes a string with escapes into the scratch buffer; p.i is at its first backslash.
func (p *lineParser) unescape(start int) ([]byte, error) {
	out := append(p.scratch[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.scratch = out
			return out, nil
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		escape := p.b[p.i+1]
		p.i += 2
		switch escape {
		case '"', '\\', '/':
			out = append(out, escape)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A surrogate only stands in a high+low pair, as in Python's json and orjson.
				var low rune = -1
				if p.literal(`\u`) {
					low, ok = p.hex4()
					if !ok {
						return nil, p.errorf("invalid \\u escape")
					}
				}
				r = utf16.DecodeRune(r, low)
				if r == utf8.RuneError {
					return nil, p.errorf("unpaired surrogate in a \\u escape")
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, p.errorf("invalid escape \\%c", escape)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *lineParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// integer reads a JSON integer (no fraction or exponent) that fits in 64 bits.
func (p *lineParser) integer() (int64, error) {
	neg := p.eat('-')
	start := p.i
	var v int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	digits := p.b[start:p.i]
	switch {
	case len(digits) == 0:
		return 0, p.errorf("expected an integer")
	case len(digits) > 1 && digits[0] == '0':
		return 0, p.errorf("leading zero in a number")
	case len(digits) > 18:
		return 0, p.errorf("integer out of range")
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, p.errorf("expected an integer")
	}
	for _, c := range digits {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// bytesOrNull reads null or a base64 string, decoded into the arena (non-nil even when empty).
func (p *lineParser) bytesOrNull() ([]byte, error) {
	if p.literal("null") {
		return nil, nil
	}
	if !p.eat('"') {
		return nil, p.errorf("expected a base64 string or null")
	}
	var text []byte
	rest := p.b[p.i:]
	end := bytes.IndexByte(rest, '"')
	// Fast path: no escape and no raw '\r' (the only control character Go's decoder would skip).
	if end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 && bytes.IndexByte(rest[:end], '\r') < 0 {
		text = rest[:end]
		p.i += end + 1
	} else {
		p.i--
		var err error
		if text, err = p.str(); err != nil {
			return nil, err
		}
		if bytes.ContainsAny(text, "\r\n") {
			return nil, p.errorf("invalid base64")
		}
	}
	size := base64.StdEncoding.DecodedLen(len(text))
	if cap(p.arena)-len(p.arena) < size {
		p.arena = make([]byte, 0, max(size, 64<<10))
	}
	at := len(p.arena)
	n, err := base64.StdEncoding.Decode(p.arena[at:at+size], text)
	if err != nil {
		return nil, p.errorf("invalid base64: %v", err)
	}
	p.arena = p.arena[:at+n]
	return p.arena[at : at+n : at+n], nil
}

// headerList reads null or [[name, base64-or-null], ...].
func (p *lineParser) headerList() ([]kgo.RecordHeader, error) {
	if p.literal("null") {
		return nil, nil
	}
	if !p.eat('[') {
		return nil, p.errorf("headers must be a list")
	}
	p.ws()
	if p.eat(']') {
		return nil, nil
	}
	headers := make([]kgo.RecordHeader, 0, 2)
	for {
		if !p.eat('[') {
			return nil, p.errorf("a header must be a [name, value] pair")
		}
		p.ws()
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		key := string(name)
		p.ws()
		if !p.eat(',') {
			return nil, p.errorf("a header must be a [name, value] pair")
		}
		p.ws()
		value, err := p.bytesOrNull()
		if err != nil {
			return nil, err
		}
		p.ws()
		if !p.eat(']') {
			return nil, p.errorf("a header must be a [name, value] pair")
		}
		headers = append(headers, kgo.RecordHeader{Key: key, Value: value})
		p.ws()
		if p.eat(',') {
			p.ws()
			continue
		}
		if p.eat(']') {
			return headers, nil
		}
		return nil, p.errorf("expected ',' or ']'")
	}
}

// skip validates and passes over any JSON value.
func (p *lineParser) skip(depth int) error {
	if depth > maxDepth {
		return p.errorf("nested too deeply")
	}
	if p.i >= len(p.b) {
		return p.errorf("expected a value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		return p.skipContainer(depth, '}', true)
	case c == '[':
		return p.skipContainer(depth, ']', false)
	case c == 't':
		return p.word("true")
	case c == 'f':
		return p.word("false")
	case c == 'n':
		return p.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.errorf("expected a value")
}

func (p *lineParser) word(word string) error {
	if !p.literal(word) {
		return p.errorf("expected a value")
	}
	return nil
}

func (p *lineParser) skipContainer(depth int, closer byte, object bool) error {
	p.i++
	p.ws()
	if p.eat(closer) {
		return nil
	}
	for {
		if object {
			if _, err := p.str(); err != nil {
				return err
			}
			p.ws()
			if !p.eat(':') {
				return p.errorf("expected ':'")
			}
			p.ws()
		}
		if err := p.skip(depth + 1); err != nil {
			return err
		}
		p.ws()
		if p.eat(',') {
			p.ws()
			continue
		}
		if p.eat(closer) {
			return nil
		}
		return p.errorf("expected ',' or '%c'", closer)
	}
}

// number passes over a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *lineParser) number() error {
	p.eat('-')
	digits := func() int {
		start := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		return p.i - start
	}
	first := p.i
	n := digits()
	if n == 0 || (n > 1 && p.b[first] == '0') {
		return p.errorf("invalid number")
	}
	if p.eat('.') && digits() == 0 {
		return p.errorf("invalid number")
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if digits() == 0 {
			return p.errorf("invalid number")
		}
	}
	return nil
}
