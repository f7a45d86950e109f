package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// replayJob is one replay; see the "replay" section of this directory's README.
type replayJob struct {
	Connection
	DumpPath           string            `json:"dump_path"`
	TopicMap           map[string]string `json:"topic_map"`
	Partitions         map[string]int    `json:"partitions"`
	ExpectedRecords    int64             `json:"expected_records"`
	LingerMs           int               `json:"linger_ms"`
	BatchMaxBytes      int               `json:"batch_max_bytes"`
	Compression        string            `json:"compression"`
	MaxBufferedRecords int               `json:"max_buffered_records"`
	MaxBufferedBytes   int64             `json:"max_buffered_bytes"`
	DeliveryTimeoutMs  int               `json:"delivery_timeout_ms"`
	FlushTimeoutMs     int               `json:"flush_timeout_ms"`
	ConnectTimeoutMs   int               `json:"connect_timeout_ms"`
	ProgressIntervalMs int               `json:"progress_interval_ms"`
	ParseWorkers       int               `json:"parse_workers"`
}

// replayTarget is one target topic: its name and partition count.
type replayTarget struct {
	topic      string
	partitions int
}

// replayPlan is the validated job: source topic -> target index, and the targets.
type replayPlan struct {
	sources map[string]int
	targets []replayTarget
}

func newReplayPlan(job replayJob) (*replayPlan, error) {
	if job.DumpPath == "" {
		return nil, failure("engine_job_invalid", "the job names no dump_path")
	}
	if len(job.TopicMap) == 0 {
		return nil, failure("engine_job_invalid", "the job has an empty topic_map")
	}
	plan := &replayPlan{sources: make(map[string]int, len(job.TopicMap))}
	index := map[string]int{}
	for source, target := range job.TopicMap {
		count := job.Partitions[target]
		if count <= 0 {
			return nil, failure("engine_job_invalid", "no partition count for target topic %s", target)
		}
		at, seen := index[target]
		if !seen {
			at = len(plan.targets)
			index[target] = at
			plan.targets = append(plan.targets, replayTarget{topic: target, partitions: count})
		}
		plan.sources[source] = at
	}
	return plan, nil
}

// producerOptions are the franz-go settings equal to the Python replay's librdkafka producer.
func (job replayJob) producerOptions() ([]kgo.Opt, error) {
	codec, err := compressionCodec(job.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes are franz-go's default and need acks=all
		kgo.ProducerBatchCompression(codec),
		// The partition is chosen while parsing (source partition or librdkafka's choice), not here.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Duration(positive(job.LingerMs, 25)) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(positive(job.BatchMaxBytes, 1_000_000))),
		kgo.MaxBufferedRecords(positive(job.MaxBufferedRecords, 500_000)),
		// No kgo.RecordDeliveryTimeout: franz-go measures it from the record's timestamp, which is the
		// original (past) one here, so every record would time out at once. The stall watchdog of
		// runReplay bounds the wait instead.
	}
	if job.MaxBufferedBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(job.MaxBufferedBytes)))
	}
	return opts, nil
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "lz4":
		return kgo.Lz4Compression(), nil
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, failure("engine_job_invalid", "unknown compression %q", name)
}

func positive(value, fallback int) int {
	if value > 0 {
		return value
	}
	return fallback
}

// deliveries counts confirmed and failed records; franz-go calls its promise from its own goroutines.
type deliveries struct {
	produced  atomic.Int64
	confirmed atomic.Int64
	failed    atomic.Int64
	firstMu   sync.Mutex
	first     error
}

func (d *deliveries) promise(_ *kgo.Record, err error) {
	if err == nil {
		d.confirmed.Add(1)
		return
	}
	if d.failed.Add(1) == 1 {
		d.firstMu.Lock()
		d.first = err
		d.firstMu.Unlock()
	}
}

// pending is how many produced records have neither been confirmed nor failed.
func (d *deliveries) pending() int64 {
	return d.produced.Load() - d.confirmed.Load() - d.failed.Load()
}

// watchStalls cancels the returned context (cause: broker_unreachable) when records are pending and
// none was confirmed or failed for the whole delivery timeout: the cluster is gone, waiting is futile.
func watchStalls(tracker *deliveries, timeout time.Duration, conn Connection) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(min(timeout/10, time.Second))
		defer tick.Stop()
		last := int64(-1)
		since := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				resolved := tracker.confirmed.Load() + tracker.failed.Load()
				if resolved != last || tracker.pending() == 0 {
					last, since = resolved, now
					continue
				}
				if now.Sub(since) >= timeout {
					cancel(failure("broker_unreachable",
						"no delivery confirmed for %s with %d records pending; is Kafka at %s reachable?",
						timeout, tracker.pending(), conn.describe()))
					return
				}
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			close(done)
			cancel(nil)
		})
	}
}

func (d *deliveries) firstError() error {
	d.firstMu.Lock()
	defer d.firstMu.Unlock()
	return d.first
}

// unreachable tells errors that mean "the cluster was not there" from records the cluster refused,
// like the Python replay's librdkafka codes (_MSG_TIMED_OUT, _TRANSPORT, _ALL_BROKERS_DOWN, _TIMED_OUT).
func unreachable(err error) bool {
	var netErr net.Error
	return errors.Is(err, kgo.ErrRecordTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &netErr)
}

func runReplay(job replayJob, out *events) error {
	plan, err := newReplayPlan(job)
	if err != nil {
		return err
	}
	format, err := dumpFormat(job.DumpPath)
	if err != nil {
		return err
	}
	opts, err := job.clientOptions()
	if err != nil {
		return err
	}
	producerOpts, err := job.producerOptions()
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(append(opts, producerOpts...)...)
	if err != nil {
		return failure("kafka_connection_invalid", "cannot create the Kafka client: %v", err)
	}
	defer client.Close()
	connectTimeout := time.Duration(positive(job.ConnectTimeoutMs, 15_000)) * time.Millisecond
	if err := pingCluster(client, job.Connection, connectTimeout); err != nil {
		return err
	}

	started := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reader := newDumpReader(job.DumpPath, format)
	blocks := reader.start(ctx)
	parser := newBatchParser(plan, job.DumpPath, positive(job.ParseWorkers, runtime.NumCPU()))
	batches := parser.start(ctx, blocks, reader.recycle)

	var tracker deliveries
	stopProgress := reportProgress(out, &tracker, job.ExpectedRecords,
		time.Duration(positive(job.ProgressIntervalMs, 500))*time.Millisecond)
	defer stopProgress()
	deliveryTimeout := time.Duration(positive(job.DeliveryTimeoutMs, 120_000)) * time.Millisecond
	produceCtx, stopWatchdog := watchStalls(&tracker, deliveryTimeout, job.Connection)
	defer stopWatchdog()

	counts := make([]int64, len(plan.targets))
	for batch := range batches {
		// One failed delivery already fails the job: stop feeding a cluster that refuses records.
		if tracker.failed.Load() > 0 || produceCtx.Err() != nil {
			cancel()
			break
		}
		tracker.produced.Add(int64(len(batch.records)))
		for i := range batch.records {
			client.Produce(produceCtx, &batch.records[i], tracker.promise)
		}
		for i, n := range batch.counts {
			counts[i] += n
		}
	}
	if err := parser.err(); err != nil {
		return err
	}
	if err := reader.err(); err != nil {
		return err
	}
	produced := tracker.produced.Load()
	if err := flushAll(client, produceCtx, &tracker, job); err != nil {
		return err
	}
	stopProgress()
	out.progress("replay", tracker.confirmed.Load(), job.ExpectedRecords)
	byTopic := make(map[string]int64, len(plan.targets))
	for i, target := range plan.targets {
		byTopic[target.topic] = counts[i]
	}
	out.result(map[string]any{
		"payload_sha256":   hex.EncodeToString(reader.digest()),
		"records":          produced,
		"records_by_topic": byTopic,
		"seconds":          time.Since(started).Seconds(),
	})
	return nil
}

// flushAll waits until every produced record is confirmed or failed; any failure fails the job.
func flushAll(client *kgo.Client, produceCtx context.Context, tracker *deliveries, job replayJob) error {
	timeout := time.Duration(positive(job.FlushTimeoutMs, 120_000)) * time.Millisecond
	ctx, cancel := context.WithTimeout(produceCtx, timeout)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		if stalled := context.Cause(produceCtx); stalled != nil {
			return stalled
		}
		return failure("broker_unreachable",
			"%d records still undelivered after %s; is Kafka at %s reachable?",
			tracker.pending(), timeout, job.describe())
	}
	if stalled := context.Cause(produceCtx); stalled != nil {
		return stalled
	}
	failed := tracker.failed.Load()
	if failed == 0 {
		return nil
	}
	first := tracker.firstError()
	reason := "replay_delivery_failed"
	if unreachable(first) {
		reason = "broker_unreachable"
	}
	return failure(reason, "%d records were not delivered (first error: %v)", failed, first)
}

// reportProgress emits the confirmed count every interval until the returned stop is called.
func reportProgress(out *events, tracker *deliveries, total int64, interval time.Duration) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				out.progress("replay", tracker.confirmed.Load(), total)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// describeLine names a line of the dump for error messages.
func describeLine(path string, line int64) string {
	return fmt.Sprintf("%s line %d", baseName(path), line)
}
