package main

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// errOrderViolation: a record arrived below the part of the file already written, so the streamed
// order is void and the pass is redone with the full external sort.
var errOrderViolation = errors.New("a record arrived below the written part of the dump")

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// partState is the read plan and the counters of one partition.
type partState struct {
	dumpPartition
	pidx   int32
	enc    lineEncoder
	seen   int64
	kept   int64
	first  int64
	last   int64
	lastTs int64
	done   bool
	paused bool // held back by balance, not finished
}

func (s *partState) label() string { return s.Topic + ":" + itoa(int64(s.Partition)) }

// partitionReader consumes every partition from its start to its end offset into the sorter, and in
// streaming mode writes what every unfinished partition has left behind by the order horizon.
type partitionReader struct {
	job       *dumpJob
	out       *events
	sort      *sorter
	writer    *dumpWriter
	streamed  bool
	states    []*partState // in (topic name, partition) order: index = pidx
	byTopic   map[string]map[int32]*partState
	remaining int
	skipped   int64
	frontier  int64 // lines below this timestamp are written (streaming)
	added     int64 // line bytes added since the last emission
}

func newPartitionReader(job *dumpJob, out *events, sort *sorter, writer *dumpWriter, streamed bool) *partitionReader {
	r := &partitionReader{
		job: job, out: out, sort: sort, writer: writer, streamed: streamed,
		byTopic:  map[string]map[int32]*partState{},
		frontier: job.WindowStartMs,
	}
	for i, p := range sortedPartitions(job.Partitions) {
		st := &partState{
			dumpPartition: p, pidx: int32(i), first: -1, last: -1, lastTs: -1,
			enc: newLineEncoder(p.Topic, p.Partition, p.ReplayTopic),
		}
		if p.End <= p.Start {
			st.done = true
		} else {
			r.remaining++
		}
		r.states = append(r.states, st)
		if r.byTopic[p.Topic] == nil {
			r.byTopic[p.Topic] = map[int32]*partState{}
		}
		r.byTopic[p.Topic][p.Partition] = st
	}
	return r
}

// inJobOrder is the states in the order the job listed the partitions.
func (r *partitionReader) inJobOrder() []*partState {
	out := make([]*partState, 0, len(r.states))
	for _, p := range r.job.Partitions {
		out = append(out, r.byTopic[p.Topic][p.Partition])
	}
	return out
}

func (r *partitionReader) expected() int64 {
	var n int64
	for _, st := range r.states {
		n += st.End - st.Start
	}
	return n
}

func (r *partitionReader) seen() int64 {
	var n int64
	for _, st := range r.states {
		n += st.seen
	}
	return n
}

func (r *partitionReader) clientOptions() ([]kgo.Opt, error) {
	opts, err := r.job.clientOptions()
	if err != nil {
		return nil, err
	}
	assign := map[string]map[int32]kgo.Offset{}
	for _, st := range r.states {
		if st.done {
			continue
		}
		if assign[st.Topic] == nil {
			assign[st.Topic] = map[int32]kgo.Offset{}
		}
		assign[st.Topic][st.Partition] = kgo.NewOffset().At(st.Start)
	}
	return append(opts,
		// Direct assignment: no consumer group, nothing committed.
		kgo.ConsumePartitions(assign),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept so that a partition whose last offsets are markers still
		// reaches its end offset; they are never counted as seen.
		kgo.KeepControlRecords(),
		// Limits on compressed bytes: a 4 MB fetch of lz4 JSON holds ~20 MB of records, and one
		// fetch is buffered while the previous is processed, so this bounds the client's memory.
		kgo.FetchMaxBytes(4<<20),
		kgo.FetchMaxPartitionBytes(256<<10),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.DisableFetchCRCValidation(),
	), nil
}

func (r *partitionReader) run() error {
	if r.remaining == 0 {
		return nil
	}
	opts, err := r.clientOptions()
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return failure("kafka_connection_invalid", "cannot create a Kafka client: %v", err)
	}
	defer client.Close()
	connect := time.Duration(r.job.ConnectTimeoutMs) * time.Millisecond
	if connect <= 0 {
		connect = 15 * time.Second
	}
	if err := pingCluster(client, r.job.Connection, connect); err != nil {
		return err
	}
	stall := time.Duration(r.job.StallTimeoutMs) * time.Millisecond
	if stall <= 0 {
		stall = 60 * time.Second
	}
	interval := progressInterval(r.job)
	expected := r.expected()
	lastActivity := time.Now()
	nextProgress := lastActivity
	emitStep := min(max(r.sort.budget/8, 1), 8<<20)
	for r.remaining > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fetches := client.PollFetches(ctx)
		cancel()
		if fetches.IsClientClosed() {
			return failure("kafka_consume_failed", "the Kafka client closed")
		}
		active, err := r.take(client, fetches)
		if err != nil {
			return err
		}
		now := time.Now()
		if active {
			lastActivity = now
		} else if now.Sub(lastActivity) > stall {
			return failure("dump_stalled", "no progress for %.0fs; unfinished partitions: %s",
				stall.Seconds(), r.unfinished())
		}
		if r.streamed && r.remaining > 0 && r.job.ReadAheadMs > 0 {
			r.balance(client)
		}
		if r.streamed && r.remaining > 0 && r.added >= emitStep {
			if err := r.emitPassed(); err != nil {
				return err
			}
		}
		if r.sort.overBudget() {
			if err := r.sort.spill(); err != nil {
				return err
			}
		}
		if now.After(nextProgress) {
			nextProgress = now.Add(interval)
			r.out.progress("dump", r.seen(), expected)
		}
	}
	r.out.progress("dump", r.seen(), expected)
	return nil
}

func (r *partitionReader) unfinished() string {
	var names []string
	for _, st := range r.states {
		if !st.done {
			names = append(names, st.label())
		}
	}
	return strings.Join(names, ", ")
}

// take handles one poll; whether anything arrived.
func (r *partitionReader) take(client *kgo.Client, fetches kgo.Fetches) (bool, error) {
	active := false
	start, end := r.job.WindowStartMs, r.job.WindowEndMs
	for fi := range fetches {
		for ti := range fetches[fi].Topics {
			topic := &fetches[fi].Topics[ti]
			for pi := range topic.Partitions {
				part := &topic.Partitions[pi]
				if part.Err != nil {
					if errors.Is(part.Err, context.DeadlineExceeded) || errors.Is(part.Err, context.Canceled) {
						continue
					}
					where := "the cluster"
					if topic.Topic != "" {
						where = topic.Topic + ":" + itoa(int64(part.Partition))
					}
					return false, failure("kafka_consume_failed", "consuming %s: %v", where, part.Err)
				}
				st := r.byTopic[topic.Topic][part.Partition]
				if st == nil || st.done || len(part.Records) == 0 {
					continue
				}
				active = true
				for _, rec := range part.Records {
					offset := rec.Offset
					if offset >= st.End {
						r.finish(client, st)
						break
					}
					if rec.Attrs.IsControl() {
						if offset >= st.End-1 {
							r.finish(client, st)
							break
						}
						continue
					}
					st.seen++
					ts := rec.Timestamp.UnixMilli()
					st.lastTs = ts
					switch {
					case ts >= r.frontier && ts < end:
						// Encoded in place in the sorter's slab, with its newline.
						room := r.sort.reserve(st.enc.maxLen(rec.Key, rec.Value, rec.Headers))
						line := append(st.enc.appendLine(room, offset, ts, rec.Key, rec.Value, rec.Headers), '\n')
						r.sort.commit(ts, offset, st.pidx, line)
						r.added += int64(len(line))
						if st.first < 0 {
							st.first = offset
						}
						st.last = offset
						st.kept++
					case ts >= start && ts < end:
						return false, errOrderViolation
					default:
						r.skipped++
					}
					if offset >= st.End-1 {
						r.finish(client, st)
						break
					}
				}
				if r.sort.overBudget() {
					if err := r.sort.spill(); err != nil {
						return false, err
					}
				}
			}
		}
	}
	return active, nil
}

func (r *partitionReader) finish(client *kgo.Client, st *partState) {
	st.done = true
	r.remaining--
	client.PauseFetchPartitions(map[string][]int32{st.Topic: {st.Partition}})
}

// balance pauses the partitions that have read more than the read-ahead beyond the slowest one and
// resumes them once it has caught up. The broker serves partitions by bytes, not by event time, so a
// sparse partition would otherwise run hours ahead and every line between it and the slowest partition
// would wait in memory (and spill) until the slowest one passed it.
func (r *partitionReader) balance(client *kgo.Client) {
	// A partition that has delivered nothing yet starts reading at the window start.
	position := func(st *partState) int64 { return max(st.lastTs, r.job.WindowStartMs) }
	slowest := int64(math.MaxInt64)
	for _, st := range r.states {
		if !st.done {
			slowest = min(slowest, position(st))
		}
	}
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for _, st := range r.states {
		if st.done {
			continue
		}
		ahead := position(st)-slowest > r.job.ReadAheadMs
		if ahead && !st.paused {
			st.paused = true
			pause[st.Topic] = append(pause[st.Topic], st.Partition)
		} else if !ahead && st.paused {
			st.paused = false
			resume[st.Topic] = append(resume[st.Topic], st.Partition)
		}
	}
	if len(pause) > 0 {
		client.PauseFetchPartitions(pause)
	}
	if len(resume) > 0 {
		client.ResumeFetchPartitions(resume)
	}
}

// emitPassed writes every line below the horizon of every unfinished partition.
func (r *partitionReader) emitPassed() error {
	safe := int64(math.MaxInt64)
	for _, st := range r.states {
		if !st.done {
			// A partition that has delivered nothing yet has lastTs -1 and holds everything back.
			safe = min(safe, st.lastTs)
		}
	}
	safe -= r.job.OrderHorizonMs
	if safe <= r.frontier {
		return nil
	}
	if err := r.sort.emitBelow(safe, r.writer, nil); err != nil {
		return err
	}
	r.frontier = safe
	r.added = 0
	return nil
}
