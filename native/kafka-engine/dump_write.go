package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// outputBlock is the size of the blocks of lines handed to the writer goroutine.
const outputBlock = 1 << 20

// hashingWriter hashes every byte it passes on (the `sha256` of the file).
type hashingWriter struct {
	w    *bufio.Writer
	h    hash.Hash
	size int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	h.h.Write(p)
	h.size += int64(len(p))
	return h.w.Write(p)
}

// dumpWriter writes ordered lines to `<path>.partial` as one zstd frame, hashing the payload and the
// file on a goroutine of its own, and moves the file into place on commit. It also accounts what the
// marker needs from the ordered stream: bounds and session coverage.
type dumpWriter struct {
	path    string
	partial string
	file    *os.File
	out     *hashingWriter
	enc     *zstd.Encoder
	payload hash.Hash
	block   []byte
	blocks  chan []byte
	free    chan []byte
	done    chan struct{}
	err     error // set by the writer goroutine, read after done
	closed  bool

	records  int64
	minTs    int64
	maxTs    int64
	coverage *coverage
}

// coverage marks the session minutes holding a record and the first/last in-session timestamps.
type coverage struct {
	start, end int64
	minutes    []bool
	first      int64
	last       int64
	any        bool
}

func newCoverage(start, end int64) *coverage {
	n := int64(0)
	if end > start {
		n = (end - start + 59_999) / 60_000
	}
	return &coverage{start: start, end: end, minutes: make([]bool, n)}
}

func (c *coverage) add(ts int64) {
	if ts < c.start || ts >= c.end {
		return
	}
	c.minutes[(ts-c.start)/60_000] = true
	if !c.any {
		c.first = ts
		c.any = true
	}
	c.last = ts // lines arrive in timestamp order
}

func (c *coverage) covered() []int {
	out := []int{}
	for i, hit := range c.minutes {
		if hit {
			out = append(out, i)
		}
	}
	return out
}

func newDumpWriter(path string, level int, cov *coverage) (*dumpWriter, error) {
	partial := path + ".partial"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, failure("dump_write_failed", "cannot create %s: %v", filepath.Dir(path), err)
	}
	f, err := os.Create(partial)
	if err != nil {
		return nil, failure("dump_write_failed", "cannot create %s: %v", partial, err)
	}
	out := &hashingWriter{w: bufio.NewWriterSize(f, outputBlock), h: sha256.New()}
	// Two encoder goroutines: compression overlaps with hashing and with building the next lines.
	// Zero frames keep an empty dump a valid (empty) zstd frame for every reader.
	enc, err := zstd.NewWriter(out,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(2),
		zstd.WithZeroFrames(true),
		// Like the Python writer (python-zstandard's default): the payload hash guards the content.
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(partial)
		return nil, failure("dump_write_failed", "cannot start zstd: %v", err)
	}
	w := &dumpWriter{
		path:     path,
		partial:  partial,
		file:     f,
		out:      out,
		enc:      enc,
		payload:  sha256.New(),
		block:    make([]byte, 0, outputBlock+4096),
		blocks:   make(chan []byte, 3),
		free:     make(chan []byte, 4),
		done:     make(chan struct{}),
		coverage: cov,
	}
	go w.drain()
	return w, nil
}

func (w *dumpWriter) drain() {
	defer close(w.done)
	for b := range w.blocks {
		if w.err == nil {
			w.payload.Write(b)
			if _, err := w.enc.Write(b); err != nil {
				w.err = err
			}
		}
		select {
		case w.free <- b[:0]:
		default:
		}
	}
}

// writeLine appends one line (which ends with its newline).
func (w *dumpWriter) writeLine(ts int64, line []byte) error {
	if w.records == 0 {
		w.minTs = ts
	}
	w.maxTs = ts
	w.records++
	w.coverage.add(ts)
	w.block = append(w.block, line...)
	if len(w.block) >= outputBlock {
		w.flushBlock()
	}
	return nil
}

func (w *dumpWriter) flushBlock() {
	if len(w.block) == 0 {
		return
	}
	w.blocks <- w.block
	select {
	case b := <-w.free:
		w.block = b
	default:
		w.block = make([]byte, 0, outputBlock+4096)
	}
}

func (w *dumpWriter) stop() {
	if !w.closed {
		w.closed = true
		close(w.blocks)
		<-w.done
	}
}

// writtenDump is what commit reports.
type writtenDump struct {
	sha256        string
	payloadSha256 string
	records       int64
	sizeBytes     int64
}

// commit finishes the frame and renames the partial file to the dump path.
func (w *dumpWriter) commit() (writtenDump, error) {
	w.flushBlock()
	w.stop()
	err := w.err
	if err == nil {
		err = w.enc.Close()
	}
	if err == nil {
		err = w.out.w.Flush()
	}
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.partial, w.path)
	}
	if err != nil {
		_ = os.Remove(w.partial)
		return writtenDump{}, failure("dump_write_failed", "cannot write %s: %v", w.path, err)
	}
	return writtenDump{
		sha256:        hex.EncodeToString(w.out.h.Sum(nil)),
		payloadSha256: hex.EncodeToString(w.payload.Sum(nil)),
		records:       w.records,
		sizeBytes:     w.out.size,
	}, nil
}

// abort drops the partial file.
func (w *dumpWriter) abort() {
	w.stop()
	_ = w.enc.Close()
	_ = w.file.Close()
	_ = os.Remove(w.partial)
}
