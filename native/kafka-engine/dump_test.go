package main

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Expected values are Python's json.dumps / DumpRecord.to_line output (torghut_sim/dump/record.py).

func TestJSONStringEscapesLikePython(t *testing.T) {
	cases := map[string]string{
		"plain":                         `"plain"`,
		"q\"b\\s\n\r\t\b\f\x01\x1f\x7f": `"q\"b\\s\n\r\t\b\f\u0001\u001f\u007f"`,
		"trace-é":                       `"trace-\u00e9"`,
		"emoji-😀":                       `"emoji-\ud83d\ude00"`,
		"日本":                            `"\u65e5\u672c"`,
		"":                              `""`,
	}
	for in, want := range cases {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBase64MatchesTheStandardEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.UintN(256))
		}
		want := base64.StdEncoding.EncodeToString(src)
		if got := string(appendBase64([]byte("x"), src)); got != "x"+want {
			t.Fatalf("appendBase64 of %d bytes = %q, want %q", n, got, want)
		}
	}
}

func TestLinesAreThePythonCanonicalLines(t *testing.T) {
	enc := newLineEncoder("src.t", 2, "torghut.sim.trades.v1.x")
	headers := []kgo.RecordHeader{{Key: "é", Value: nil}, {Key: "k", Value: []byte{}}}
	got := string(enc.appendLine(nil, 41, 1772807400123, nil, []byte{0, 1, 2, 3, 4, 5, 6}, headers))
	want := `{"dataset_event_id":"src.t:2:41","headers":[["\u00e9",null],["k",""]],"key_b64":null,` +
		`"replay_topic":"torghut.sim.trades.v1.x","source_offset":41,"source_partition":2,` +
		`"source_timestamp_ms":1772807400123,"source_topic":"src.t","value_b64":"AAECAwQFBg=="}`
	if got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
	enc = newLineEncoder("src.t", 0, "r")
	got = string(enc.appendLine(nil, 7, -1, []byte{}, []byte("{}"), nil))
	want = `{"dataset_event_id":"src.t:0:7","headers":[],"key_b64":"","replay_topic":"r","source_offset":7,` +
		`"source_partition":0,"source_timestamp_ms":-1,"source_topic":"src.t","value_b64":"e30="}`
	if got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
}

type collect struct {
	ts    []int64
	lines []string
}

func (c *collect) writeLine(ts int64, line []byte) error {
	c.ts = append(c.ts, ts)
	c.lines = append(c.lines, string(line))
	return nil
}

func TestLinesAreEncodedInPlaceWithinTheirBound(t *testing.T) {
	s := newSorter(t.TempDir(), 1<<30)
	enc := newLineEncoder("t", 0, "r")
	long := make([]byte, 3000)
	headers := []kgo.RecordHeader{{Key: "\x01😀é", Value: nil}, {Key: "", Value: long[:7]}}
	for i, value := range [][]byte{nil, {}, long[:1], long} {
		room := s.reserve(enc.maxLen([]byte("k"), value, headers))
		line := append(enc.appendLine(room, int64(i), -1, []byte("k"), value, headers), '\n')
		if cap(room) < len(line) {
			t.Fatalf("a line of %d bytes outgrew its bound %d", len(line), cap(room))
		}
		s.commit(int64(i), int64(i), 0, line)
	}
	// A line that did outgrow its room is stored as a copy.
	s.commit(9, 9, 0, []byte("elsewhere\n"))
	out := &collect{}
	if err := s.emitBelow(1<<62, out, nil); err != nil {
		t.Fatal(err)
	}
	if len(out.lines) != 5 || out.lines[4] != "elsewhere\n" {
		t.Fatalf("lines %q", out.lines)
	}
}

func TestSorterMergesSpilledRunsAndMemoryInOrder(t *testing.T) {
	s := newSorter(t.TempDir(), 1<<30)
	defer s.close()
	rng := rand.New(rand.NewPCG(3, 4))
	var want []string
	for i := 0; i < 3000; i++ {
		ts := int64(rng.IntN(500))
		pidx := int32(rng.IntN(3))
		line := []byte{byte('a' + pidx), byte(i), byte(i >> 8), '\n'}
		s.add(ts, int64(i), pidx, line)
		if i%700 == 699 {
			if err := s.spill(); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, string(line))
	}
	if s.spilled != 4 {
		t.Fatalf("spilled %d runs, want 4", s.spilled)
	}
	out := &collect{}
	// Below 250 first (runs stay open), then the rest.
	if err := s.emitBelow(250, out, nil); err != nil {
		t.Fatal(err)
	}
	for _, ts := range out.ts {
		if ts >= 250 {
			t.Fatalf("emitted %d below cutoff 250", ts)
		}
	}
	if err := s.emitBelow(1<<62, out, nil); err != nil {
		t.Fatal(err)
	}
	if len(out.lines) != len(want) || !slices.IsSorted(out.ts) {
		t.Fatalf("emitted %d lines (sorted: %v), want %d sorted", len(out.lines), slices.IsSorted(out.ts), len(want))
	}
	slices.Sort(want)
	got := slices.Clone(out.lines)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatal("the emitted lines are not the added lines")
	}
	// Only the slab being filled (now empty) may still be held.
	if s.live > slabSize || len(s.runs) != 0 {
		t.Fatalf("after emitting everything: %d live bytes, %d runs", s.live, len(s.runs))
	}
}
