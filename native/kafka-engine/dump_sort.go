package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/klauspost/compress/s2"
)

// Records arrive per partition in offset order, but timestamps are not monotonic within a partition, so
// the global order (timestamp, topic, partition, offset) needs a sort. Lines are held in reused slabs
// up to a byte budget; over the budget they are sorted and spilled to a run file, and runs are merged
// with what is still in memory when lines are emitted.

const slabSize = 1 << 20

// entry is one buffered line: its sort key and where its bytes are.
type entry struct {
	ts   int64
	off  int64
	pidx int32 // index of the partition in (topic name, partition) order
	slab int32
	pos  int32
	n    int32
}

func compareKeys(ts1 int64, p1 int32, o1 int64, ts2 int64, p2 int32, o2 int64) int {
	if c := cmp.Compare(ts1, ts2); c != 0 {
		return c
	}
	if c := cmp.Compare(p1, p2); c != 0 {
		return c
	}
	return cmp.Compare(o1, o2)
}

func compareEntries(a, b entry) int { return compareKeys(a.ts, a.pidx, a.off, b.ts, b.pidx, b.off) }

type slab struct {
	buf  []byte
	live int32
}

// lineSink receives lines (each with its newline) in global order.
type lineSink interface {
	writeLine(ts int64, line []byte) error
}

// sorter buffers lines within a memory budget, spills sorted runs, and emits everything below a timestamp.
type sorter struct {
	dir     string
	budget  int64
	slabs   []*slab
	free    []int32 // ids of slabs with no live line, ready to be refilled
	cur     int32   // slab being filled, -1 when none
	entries []entry
	live    int64   // bytes of slabs holding live lines
	sorted  int     // entries[:sorted] are in order; the rest arrived since
	merged  []entry // merge buffer, swapped with entries
	runs    []*runReader
	spilled int
	written int64 // lines emitted so far
}

func newSorter(dir string, budget int64) *sorter {
	return &sorter{dir: dir, budget: budget, cur: -1}
}

func (s *sorter) overBudget() bool { return s.live >= s.budget }

// add copies one line into the buffer.
func (s *sorter) add(ts, off int64, pidx int32, line []byte) {
	s.commit(ts, off, pidx, append(s.reserve(len(line)), line...))
}

// reserve is room for a line of at most n bytes at the end of the current slab: a line appended to it
// is then handed to commit without a copy.
func (s *sorter) reserve(n int) []byte {
	if s.cur < 0 || len(s.slabs[s.cur].buf)+n > cap(s.slabs[s.cur].buf) {
		s.cur = s.newSlab(n)
	}
	buf := s.slabs[s.cur].buf
	return buf[len(buf):len(buf):cap(buf)]
}

// commit adds a line built in the room reserve returned (copied if it outgrew that room).
func (s *sorter) commit(ts, off int64, pidx int32, line []byte) {
	sl := s.slabs[s.cur]
	pos := len(sl.buf)
	n := len(line)
	room := sl.buf[pos:cap(sl.buf)]
	if n > 0 && (n > len(room) || &room[0] != &line[0]) {
		// The line outgrew its reservation and was reallocated: store a copy.
		s.add(ts, off, pidx, line)
		return
	}
	sl.buf = sl.buf[:pos+n]
	sl.live++
	s.entries = append(s.entries, entry{ts: ts, off: off, pidx: pidx, slab: s.cur, pos: int32(pos), n: int32(n)})
}

func (s *sorter) newSlab(n int) int32 {
	s.releaseCurrent()
	if n <= slabSize {
		if k := len(s.free); k > 0 {
			id := s.free[k-1]
			s.free = s.free[:k-1]
			s.live += int64(cap(s.slabs[id].buf))
			return id
		}
	}
	sl := &slab{buf: make([]byte, 0, max(n, slabSize))}
	s.slabs = append(s.slabs, sl)
	s.live += int64(cap(sl.buf))
	return int32(len(s.slabs) - 1)
}

// releaseCurrent stops filling the current slab; an empty one is freed at once.
func (s *sorter) releaseCurrent() {
	id := s.cur
	s.cur = -1
	if id >= 0 && s.slabs[id].live == 0 {
		s.freeSlab(id)
	}
}

func (s *sorter) freeSlab(id int32) {
	sl := s.slabs[id]
	s.live -= int64(cap(sl.buf))
	if cap(sl.buf) > slabSize {
		// An oversized slab (one huge line) is given back to the collector instead of kept.
		sl.buf = make([]byte, 0, slabSize)
	}
	sl.buf = sl.buf[:0]
	s.free = append(s.free, id)
}

func (s *sorter) lineOf(e *entry) []byte {
	return s.slabs[e.slab].buf[e.pos : e.pos+e.n]
}

func (s *sorter) release(e *entry) {
	sl := s.slabs[e.slab]
	sl.live--
	if sl.live == 0 && e.slab != s.cur {
		s.freeSlab(e.slab)
	}
}

// order sorts the entries: only those that arrived since the last call, then merges the two runs.
func (s *sorter) order() {
	tail := s.entries[s.sorted:]
	slices.SortFunc(tail, compareEntries)
	if s.sorted > 0 && len(tail) > 0 && compareEntries(s.entries[s.sorted-1], tail[0]) > 0 {
		head := s.entries[:s.sorted]
		out := s.merged[:0]
		i, j := 0, 0
		for i < len(head) && j < len(tail) {
			if compareEntries(tail[j], head[i]) < 0 {
				out = append(out, tail[j])
				j++
			} else {
				out = append(out, head[i])
				i++
			}
		}
		out = append(out, head[i:]...)
		out = append(out, tail[j:]...)
		s.merged, s.entries = s.entries[:0], out
	}
	s.sorted = len(s.entries)
}

// spill writes every buffered line, sorted, to a new run file and empties the buffer.
func (s *sorter) spill() error {
	if len(s.entries) == 0 {
		return nil
	}
	s.order()
	path := filepath.Join(s.dir, fmt.Sprintf("run-%06d", s.spilled))
	f, err := os.Create(path)
	if err != nil {
		return failure("dump_spill_failed", "cannot create a spill run: %v", err)
	}
	// Runs are s2-compressed: on a day that spills, writing and reading the runs back costs more in
	// system calls and page cache than s2 costs in CPU.
	// The s2 writer buffers a block itself, so lines go to it directly.
	w := s2.NewWriter(f, s2.WriterBlockSize(slabSize))
	var header [runHeader]byte
	for i := range s.entries {
		e := &s.entries[i]
		binary.LittleEndian.PutUint64(header[0:], uint64(e.ts))
		binary.LittleEndian.PutUint64(header[8:], uint64(e.off))
		binary.LittleEndian.PutUint32(header[16:], uint32(e.pidx))
		binary.LittleEndian.PutUint32(header[20:], uint32(e.n))
		_, _ = w.Write(header[:])
		if _, err = w.Write(s.lineOf(e)); err != nil {
			break
		}
		s.release(e)
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return failure("dump_spill_failed", "cannot write a spill run: %v", err)
	}
	s.entries = s.entries[:0]
	s.sorted = 0
	s.releaseCurrent()
	s.spilled++
	run, err := openRun(path)
	if err != nil {
		return err
	}
	s.runs = append(s.runs, run)
	return nil
}

// emitBelow writes every line with a timestamp below cutoff, in global order, to sink.
func (s *sorter) emitBelow(cutoff int64, sink lineSink, progress func(written int64)) error {
	s.order()
	k := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].ts >= cutoff })
	var err error
	if len(s.runs) == 0 {
		err = s.emitMemory(k, sink, progress)
	} else {
		err = s.mergeBelow(cutoff, k, sink, progress)
	}
	if err != nil {
		return err
	}
	n := copy(s.entries, s.entries[k:])
	s.entries = s.entries[:n]
	s.sorted = n
	return nil
}

func (s *sorter) emitMemory(k int, sink lineSink, progress func(int64)) error {
	for i := 0; i < k; i++ {
		e := &s.entries[i]
		if err := sink.writeLine(e.ts, s.lineOf(e)); err != nil {
			return err
		}
		s.release(e)
		s.written++
		if s.written&0xffff == 0 && progress != nil {
			progress(s.written)
		}
	}
	return nil
}

// mergeBelow merges the first k buffered entries with the heads of the runs below cutoff.
func (s *sorter) mergeBelow(cutoff int64, k int, sink lineSink, progress func(int64)) error {
	// Source 0 is memory, sources 1.. are runs; a binary heap of source indexes by their head key.
	mem := 0
	heads := make([]int, 0, len(s.runs)+1)
	key := func(src int) (int64, int32, int64) {
		if src == 0 {
			e := &s.entries[mem]
			return e.ts, e.pidx, e.off
		}
		r := s.runs[src-1]
		return r.ts, r.pidx, r.off
	}
	less := func(a, b int) bool {
		t1, p1, o1 := key(a)
		t2, p2, o2 := key(b)
		return compareKeys(t1, p1, o1, t2, p2, o2) < 0
	}
	h := &indexHeap{items: heads, less: less}
	if k > 0 {
		h.push(0)
	}
	for i, r := range s.runs {
		if !r.eof && r.ts < cutoff {
			h.push(i + 1)
		}
	}
	for len(h.items) > 0 {
		src := h.items[0]
		if src == 0 {
			e := &s.entries[mem]
			if err := sink.writeLine(e.ts, s.lineOf(e)); err != nil {
				return err
			}
			s.release(e)
			mem++
			if mem < k {
				h.fix0()
			} else {
				h.pop()
			}
		} else {
			r := s.runs[src-1]
			if err := sink.writeLine(r.ts, r.line); err != nil {
				return err
			}
			if err := r.next(); err != nil {
				return err
			}
			if !r.eof && r.ts < cutoff {
				h.fix0()
			} else {
				h.pop()
			}
		}
		s.written++
		if s.written&0xffff == 0 && progress != nil {
			progress(s.written)
		}
	}
	kept := s.runs[:0]
	for _, r := range s.runs {
		if r.eof {
			r.close()
		} else {
			kept = append(kept, r)
		}
	}
	s.runs = kept
	return nil
}

// close drops the runs still open (their files are removed with the spill directory).
func (s *sorter) close() {
	for _, r := range s.runs {
		r.close()
	}
	s.runs = nil
}

// indexHeap is a binary min-heap of source indexes ordered by less.
type indexHeap struct {
	items []int
	less  func(a, b int) bool
}

func (h *indexHeap) push(x int) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(h.items[i], h.items[parent]) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *indexHeap) pop() {
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	if last > 0 {
		h.fix0()
	}
}

// fix0 restores the heap after the key of the top item grew.
func (h *indexHeap) fix0() {
	i, n := 0, len(h.items)
	for {
		smallest := i
		l, r := 2*i+1, 2*i+2
		if l < n && h.less(h.items[l], h.items[smallest]) {
			smallest = l
		}
		if r < n && h.less(h.items[r], h.items[smallest]) {
			smallest = r
		}
		if smallest == i {
			return
		}
		h.items[i], h.items[smallest] = h.items[smallest], h.items[i]
		i = smallest
	}
}

// runHeader is the fixed part before every line of a run: timestamp, offset, partition index, length.
const runHeader = 24

// runReader reads a spilled run front to back; its current line is its head.
type runReader struct {
	path string
	f    *os.File
	r    *s2.Reader
	ts   int64
	off  int64
	pidx int32
	line []byte
	eof  bool
}

func openRun(path string) (*runReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, failure("dump_spill_failed", "cannot read a spill run: %v", err)
	}
	r := &runReader{path: path, f: f, r: s2.NewReader(f, s2.ReaderMaxBlockSize(slabSize))}
	if err := r.next(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *runReader) next() error {
	var header [runHeader]byte
	if _, err := io.ReadFull(r.r, header[:]); err != nil {
		if err == io.EOF {
			r.eof = true
			return nil
		}
		return failure("dump_spill_failed", "cannot read a spill run: %v", err)
	}
	r.ts = int64(binary.LittleEndian.Uint64(header[0:]))
	r.off = int64(binary.LittleEndian.Uint64(header[8:]))
	r.pidx = int32(binary.LittleEndian.Uint32(header[16:]))
	n := int(binary.LittleEndian.Uint32(header[20:]))
	if cap(r.line) < n {
		r.line = make([]byte, n)
	}
	r.line = r.line[:n]
	if _, err := io.ReadFull(r.r, r.line); err != nil {
		return failure("dump_spill_failed", "cannot read a spill run: %v", err)
	}
	return nil
}

// close closes and removes the run file: its lines are all written.
func (r *runReader) close() {
	if r.f != nil {
		_ = r.f.Close()
		_ = os.Remove(r.path)
		r.f = nil
	}
}
