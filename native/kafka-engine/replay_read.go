package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// readChunk is how much decompressed data one block carries (a few thousand dump lines).
const readChunk = 1 << 20

// dumpFormat is "zst", "gz" or "plain" from the file name, as torghut_sim/dump/io.py dump_format.
func dumpFormat(path string) (string, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".partial")
	switch {
	case strings.HasSuffix(name, ".zst"):
		return "zst", nil
	case strings.HasSuffix(name, ".gz"):
		return "gz", nil
	case strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".json"):
		return "plain", nil
	}
	return "", failure("dump_format_unknown", "%s: expected .jsonl.zst, .jsonl.gz or .ndjson", filepath.Base(path))
}

func baseName(path string) string { return filepath.Base(path) }

// lineBlock is a run of stripped, non-blank dump lines, each ending in '\n'.
type lineBlock struct {
	data  []byte
	lines int
	first int64 // number of the block's first line among the dump's non-blank lines, from 1
}

// dumpReader decompresses a dump, cuts it into blocks of whole lines and hashes them in file order.
type dumpReader struct {
	path   string
	format string
	hash   hash.Hash
	free   chan []byte
	mu     sync.Mutex
	failed error
}

func newDumpReader(path, format string) *dumpReader {
	return &dumpReader{path: path, format: format, hash: sha256.New(), free: make(chan []byte, 8)}
}

// recycle hands a block's buffer back once its lines are parsed (nothing keeps a reference to it).
func (r *dumpReader) recycle(buf []byte) {
	select {
	case r.free <- buf[:0]:
	default:
	}
}

func (r *dumpReader) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *dumpReader) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = err
	}
}

// digest is the payload hash; valid once the block channel is closed without an error.
func (r *dumpReader) digest() []byte { return r.hash.Sum(nil) }

func (r *dumpReader) open() (io.ReadCloser, error) {
	file, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	switch r.format {
	case "zst":
		dec, err := zstd.NewReader(file, zstd.WithDecoderConcurrency(2))
		if err != nil {
			_ = file.Close()
			return nil, err
		}
		return &stackedReader{Reader: dec, close: func() { dec.Close(); _ = file.Close() }}, nil
	case "gz":
		dec, err := gzip.NewReader(file)
		if err != nil {
			_ = file.Close()
			return nil, err
		}
		return &stackedReader{Reader: dec, close: func() { _ = dec.Close(); _ = file.Close() }}, nil
	}
	return file, nil
}

type stackedReader struct {
	io.Reader
	close func()
}

func (s *stackedReader) Close() error {
	s.close()
	return nil
}

// start reads the dump on its own goroutine; the channel closes at the end or on an error.
func (r *dumpReader) start(ctx context.Context) <-chan lineBlock {
	blocks := make(chan lineBlock, 4)
	go func() {
		defer close(blocks)
		if err := r.run(ctx, blocks); err != nil && !errors.Is(err, context.Canceled) {
			r.fail(err)
		}
	}()
	return blocks
}

func (r *dumpReader) buffer(carry []byte) []byte {
	var buf []byte
	select {
	case buf = <-r.free:
	default:
		buf = make([]byte, 0, readChunk+readChunk/4)
	}
	return append(buf, carry...)
}

func (r *dumpReader) run(ctx context.Context, blocks chan<- lineBlock) error {
	stream, err := r.open()
	if err != nil {
		return failure("replay_dump_unreadable", "cannot read dump %s: %v", r.path, err)
	}
	defer func() { _ = stream.Close() }()
	var carry []byte
	next := int64(1)
	eof := false
	for !eof {
		buf := r.buffer(carry)
		carry = carry[:0]
		// Fill up to the chunk size; a line longer than that grows the buffer until its end is in.
		for {
			if cap(buf)-len(buf) < readChunk/4 {
				buf = append(buf, make([]byte, readChunk)...)[:len(buf)]
			}
			filled, err := fill(stream, buf)
			buf = filled
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				// A truncated zstd or gzip stream ends in io.ErrUnexpectedEOF: unreadable, not the end.
				return failure("replay_dump_unreadable", "cannot read dump %s: %v", r.path, err)
			}
			if bytes.LastIndexByte(buf, '\n') >= 0 {
				break
			}
		}
		body := buf
		if !eof {
			cut := bytes.LastIndexByte(buf, '\n') + 1
			carry = append(carry, buf[cut:]...)
			body = buf[:cut]
		} else if len(body) > 0 && body[len(body)-1] != '\n' {
			body = append(body, '\n')
		}
		data, lines := stripLines(body)
		if lines == 0 {
			r.recycle(buf)
			continue
		}
		r.hash.Write(data)
		block := lineBlock{data: data, lines: lines, first: next}
		next += int64(lines)
		select {
		case blocks <- block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// fill reads into buf up to its capacity; io.EOF only at the clean end of the stream.
func fill(stream io.Reader, buf []byte) ([]byte, error) {
	for len(buf) < cap(buf) {
		n, err := stream.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// isSpace is the ASCII whitespace Python's bytes.strip() removes.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// stripLines rewrites body (lines ending in '\n') in place to its stripped non-blank lines.
//
// Hashing the result equals sha256 over every stripped line + "\n". A canonical body (no padding, no
// blank line: what the dump writes) is left untouched, so the common case costs one scan.
func stripLines(body []byte) ([]byte, int) {
	lines := 0
	start := 0
	for start < len(body) {
		end := start + bytes.IndexByte(body[start:], '\n')
		if end == start || isSpace(body[start]) || isSpace(body[end-1]) {
			return compactLines(body, start, lines)
		}
		lines++
		start = end + 1
	}
	return body, lines
}

// compactLines finishes stripLines from the first line that needs stripping.
func compactLines(body []byte, from, lines int) ([]byte, int) {
	write := from
	start := from
	for start < len(body) {
		end := start + bytes.IndexByte(body[start:], '\n')
		lo, hi := start, end
		for lo < hi && isSpace(body[lo]) {
			lo++
		}
		for hi > lo && isSpace(body[hi-1]) {
			hi--
		}
		if hi > lo {
			write += copy(body[write:], body[lo:hi])
			body[write] = '\n'
			write++
			lines++
		}
		start = end + 1
	}
	return body[:write], lines
}
