package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// dumpPartition is the read plan of one source partition: offsets [start, end) and its replay topic.
type dumpPartition struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Start       int64  `json:"start"`
	End         int64  `json:"end"`
	ReplayTopic string `json:"replay_topic"`
}

// dumpJob is one dump; see the README of this directory.
type dumpJob struct {
	Connection
	Partitions         []dumpPartition `json:"partitions"`
	WindowStartMs      int64           `json:"window_start_ms"`
	WindowEndMs        int64           `json:"window_end_ms"`
	SessionStartMs     int64           `json:"session_start_ms"`
	SessionEndMs       int64           `json:"session_end_ms"`
	DumpPath           string          `json:"dump_path"`
	SpillDir           string          `json:"spill_dir"`
	MemoryBudgetBytes  int64           `json:"memory_budget_bytes"`
	MemoryLimitBytes   int64           `json:"memory_limit_bytes"`
	ZstdLevel          int             `json:"zstd_level"`
	OrderHorizonMs     int64           `json:"order_horizon_ms"`
	ReadAheadMs        int64           `json:"read_ahead_ms"`
	StallTimeoutMs     int64           `json:"stall_timeout_ms"`
	ConnectTimeoutMs   int64           `json:"connect_timeout_ms"`
	ProgressIntervalMs int64           `json:"progress_interval_ms"`
}

// partitionResult is what the marker needs of one partition.
type partitionResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Seen      int64  `json:"seen"`
	Kept      int64  `json:"kept"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
}

func (j *dumpJob) validate() error {
	switch {
	case j.WindowEndMs <= j.WindowStartMs:
		return failure("engine_job_invalid", "window_end_ms must be after window_start_ms")
	case j.DumpPath == "" || j.SpillDir == "":
		return failure("engine_job_invalid", "dump_path and spill_dir are required")
	case j.MemoryBudgetBytes <= 0:
		return failure("engine_job_invalid", "memory_budget_bytes must be positive")
	}
	seen := map[string]bool{}
	for _, p := range j.Partitions {
		label := p.Topic + ":" + itoa(int64(p.Partition))
		if seen[label] {
			return failure("engine_job_invalid", "partition %s is listed twice", label)
		}
		seen[label] = true
		if p.End < p.Start || p.Start < 0 {
			return failure("engine_job_invalid", "partition %s has offsets %d..%d", label, p.Start, p.End)
		}
	}
	return nil
}

func runDump(job dumpJob, out *events) error {
	if err := job.validate(); err != nil {
		return err
	}
	if job.MemoryLimitBytes > 0 {
		debug.SetMemoryLimit(job.MemoryLimitBytes)
	}
	streamed := job.OrderHorizonMs > 0
	res, err := dumpPass(&job, out, streamed)
	if errors.Is(err, errOrderViolation) {
		// A record arrived below the part already written: redo the dump with the full external sort.
		streamed = false
		res, err = dumpPass(&job, out, false)
	}
	if err != nil {
		return err
	}
	body := map[string]any{
		"streamed":         streamed,
		"records":          res.written.records,
		"sha256":           res.written.sha256,
		"payload_sha256":   res.written.payloadSha256,
		"size_bytes":       res.written.sizeBytes,
		"skipped":          res.skipped,
		"partitions":       res.partitions,
		"spilled_runs":     res.spilled,
		"min_timestamp_ms": nil,
		"max_timestamp_ms": nil,
		"coverage": map[string]any{
			"covered_minutes": res.coverage.covered(),
			"first_ts_ms":     nil,
			"last_ts_ms":      nil,
		},
	}
	if res.written.records > 0 {
		body["min_timestamp_ms"] = res.minTs
		body["max_timestamp_ms"] = res.maxTs
	}
	if res.coverage.any {
		cov := body["coverage"].(map[string]any)
		cov["first_ts_ms"] = res.coverage.first
		cov["last_ts_ms"] = res.coverage.last
	}
	out.result(body)
	return nil
}

// passResult is what one pass over the partitions produced.
type passResult struct {
	written    writtenDump
	partitions []partitionResult
	skipped    int64
	spilled    int
	minTs      int64
	maxTs      int64
	coverage   *coverage
}

// dumpPass reads every partition once and writes the ordered file (while reading when streamed).
func dumpPass(job *dumpJob, out *events, streamed bool) (res passResult, err error) {
	runDir, err := os.MkdirTemp(job.SpillDir, "dump-runs-")
	if err != nil {
		return res, failure("dump_spill_failed", "cannot create a spill directory in %s: %v", job.SpillDir, err)
	}
	defer func() { _ = os.RemoveAll(runDir) }()
	cov := newCoverage(job.SessionStartMs, job.SessionEndMs)
	writer, err := newDumpWriter(job.DumpPath, job.ZstdLevel, cov)
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			writer.abort()
		}
	}()
	sort := newSorter(runDir, job.MemoryBudgetBytes)
	defer sort.close()
	reader := newPartitionReader(job, out, sort, writer, streamed)
	if err := reader.run(); err != nil {
		return res, err
	}
	var kept int64
	for _, st := range reader.states {
		kept += st.kept
	}
	interval := progressInterval(job)
	next := time.Now().Add(interval)
	progress := func(written int64) {
		if now := time.Now(); now.After(next) {
			next = now.Add(interval)
			out.progress("merge", written, kept)
		}
	}
	if err := sort.emitBelow(math.MaxInt64, writer, progress); err != nil {
		return res, err
	}
	out.progress("merge", writer.records, kept)
	written, err := writer.commit()
	committed = true
	if err != nil {
		return res, err
	}
	if written.records != kept {
		return res, failure("dump_count_mismatch", "wrote %d lines for %d records", written.records, kept)
	}
	res = passResult{
		written:  written,
		skipped:  reader.skipped,
		spilled:  sort.spilled,
		minTs:    writer.minTs,
		maxTs:    writer.maxTs,
		coverage: cov,
	}
	for _, st := range reader.inJobOrder() {
		res.partitions = append(res.partitions, partitionResult{
			Topic: st.Topic, Partition: st.Partition, Seen: st.seen, Kept: st.kept, First: st.first, Last: st.last,
		})
	}
	return res, nil
}

func progressInterval(job *dumpJob) time.Duration {
	if job.ProgressIntervalMs > 0 {
		return time.Duration(job.ProgressIntervalMs) * time.Millisecond
	}
	return 500 * time.Millisecond
}

// sortedPartitions is the job's partitions in the tie-break order of the dump: topic name, partition.
func sortedPartitions(parts []dumpPartition) []dumpPartition {
	out := slices.Clone(parts)
	slices.SortFunc(out, func(a, b dumpPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return out
}
