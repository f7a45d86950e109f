"""Benchmark of the Kafka source dump and replay against raw confluent-kafka clients on the local broker.

A synthetic trading day (4 source topics x 3 partitions, contract-shaped JSON values of ~300-400 bytes,
timestamps not monotonic within a partition) is produced with a raw producer, then read by a raw consumer
and dumped, then replayed. Each baseline uses exactly the client settings of the phase it is compared with:

- raw producer: `replay_producer_config` (idempotent, acks=all, same linger/batch/compression), messages
  pre-built outside the timed loop, only `produce()` + periodic `poll(0)` + the final flush are timed;
- raw consumer: `dump_consumer_config`, the same window start by `offsets_for_times`, reads every record to
  the end offset and touches key and value; it writes nothing;
- dump: the raw consumer's work plus timestamp filtering, base64 line building, ordering (sorted runs
  spilled to disk and merged), sha256 of every line, zstd compression and the marker;
- replay: zstd decompression, sha256 of every line, line decoding, base64 decoding, then the raw producer's
  work.

The four phases run in rounds (`--repeat`, default 3), each phase next to its baseline, and every figure
is reported from its median round: these machines are noisy, and one slow baseline would make one ratio
meaningless. Every measured phase runs in its own subprocess; its CPU time (including its worker
processes) and the peak RSS of its whole process tree (sampled every 20 ms) are reported. Targets: dump
>= 70 % of the raw consumer, replay >= 70 % of the raw producer, peak RSS of the dump and of the replay
< 512 MB whatever the day's size.

    .venv/bin/python benchmarks/kafka_bench.py --records 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from torghut_sim.dump.dumper import DumpTuning, dump_consumer_config, dump_source
from torghut_sim.dump.request import DumpRequest
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineChoice
from torghut_sim.kafka.readiness import create_topics
from torghut_sim.replay.produce import DeliveryTracker, replay_producer_config
from torghut_sim.replay.replayer import replay_dump
from torghut_sim.replay.request import ReplayRequest, ReplayTuning

SESSION_START = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
SESSION_END = SESSION_START + timedelta(minutes=390)
PARTITIONS = 3
# Share of records per role in a real day: quotes and trades dominate.
ROLE_WEIGHTS = {"quotes": 0.50, "trades": 0.40, "bars": 0.07, "status": 0.03}
SYMBOLS = ("NVDA", "AVGO", "AMD", "MU", "MRVL", "CRDO", "COHR", "LITE", "SNDK", "WDC")
TARGET_RATIO = 0.70
RSS_LIMIT_MB = 512


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(role: str, symbol: str, seq: int, ts_ms: int, rng: random.Random) -> bytes:
    """A contract-shaped envelope of the role."""
    if role == "trades":
        payload: dict[str, Any] = {
            "i": seq,
            "p": round(rng.uniform(50, 900), 2),
            "s": rng.randint(1, 500),
            "t": _iso(ts_ms),
        }
    elif role == "quotes":
        bid = round(rng.uniform(50, 900), 2)
        payload = {
            "bp": bid,
            "bs": rng.randint(1, 9) * 100,
            "ap": round(bid + 0.01, 2),
            "as": rng.randint(1, 9) * 100,
            "t": _iso(ts_ms),
        }
    elif role == "bars":
        o = round(rng.uniform(50, 900), 2)
        payload = {
            "o": o,
            "h": o + 1,
            "l": o - 1,
            "c": o + 0.5,
            "v": rng.randint(1000, 90000),
            "t": _iso(ts_ms),
            "is_final": True,
        }
    else:
        payload = {"status": "ok", "lag_ms": rng.randint(0, 50)}
    envelope = {
        "ingest_ts": _iso(ts_ms + 3),
        "event_ts": _iso(ts_ms),
        "feed": "iex",
        "channel": role,
        "symbol": symbol,
        "seq": seq,
        "is_final": True,
        "source": "ws",
        "window": {"size": "PT1S", "step": "PT1S", "start": _iso(ts_ms), "end": _iso(ts_ms + 1000)},
        "payload": payload,
        "version": 1,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def _create_topics(conn: KafkaConnection, topics: list[str]) -> None:
    # Waits until every partition's leader answers, so the first produce and time-index read work.
    create_topics(conn.client_config(), dict.fromkeys(topics, PARTITIONS))


def _delete_topics(conn: KafkaConnection, topics: list[str]) -> None:
    admin = AdminClient(conn.client_config())
    for future in admin.delete_topics(topics, operation_timeout=60).values():
        try:
            future.result(timeout=60)
        except Exception as exc:  # noqa: BLE001 - cleanup is best effort
            print(f"warning: could not delete a topic: {exc}", file=sys.stderr)


def produce_day(conn: KafkaConnection, topics: dict[str, str], records: int) -> dict[str, float]:
    """The raw producer: write the synthetic day from pre-built messages; returns its throughput."""
    rng = random.Random(42)
    pools: dict[str, list[bytes]] = {}
    for role in topics:
        pools[role] = [
            _value(role, SYMBOLS[i % 10], i, _ms(SESSION_START) + i * 997, rng) for i in range(2048)
        ]
    roles = list(ROLE_WEIGHTS)
    plan = rng.choices(roles, weights=[ROLE_WEIGHTS[r] for r in roles], k=4096)
    keys = [s.encode() for s in SYMBOLS]
    start_ms, span = _ms(SESSION_START), _ms(SESSION_END) - _ms(SESSION_START)
    jitter = [rng.randint(-400, 400) for _ in range(4096)]
    tracker = DeliveryTracker()
    producer = Producer(replay_producer_config(conn, ReplayTuning(), tracker))
    produce = producer.produce
    poll_every = ReplayTuning().poll_every
    payload_bytes = 0
    elapsed = cpu = 0.0
    step = 500_000  # messages are built in slices, outside the timed loop, to bound the memory
    for first in range(0, records, step):
        batch = []
        for i in range(first, min(first + step, records)):
            role = plan[i & 4095]
            value = pools[role][i & 2047]
            key = keys[i % 10]
            # Increasing through the day with jitter: timestamps go backwards inside a partition.
            ts = start_ms + 500 + (i * (span - 1000)) // records + jitter[i & 4095]
            batch.append((topics[role], value, key, i % PARTITIONS, ts))
            payload_bytes += len(value) + len(key)
        began = time.perf_counter()
        cpu_began = time.process_time()
        for n, (topic, value, key, partition, ts) in enumerate(batch, 1):
            try:
                produce(topic, value, key, partition, timestamp=ts)
            except BufferError:
                while True:
                    producer.poll(0.05)
                    try:
                        produce(topic, value, key, partition, timestamp=ts)
                        break
                    except BufferError:
                        continue
            if n % poll_every == 0:
                producer.poll(0)
        elapsed += time.perf_counter() - began
        cpu += time.process_time() - cpu_began
    began = time.perf_counter()
    cpu_began = time.process_time()
    remaining = producer.flush(120)
    elapsed += time.perf_counter() - began
    cpu += time.process_time() - cpu_began
    if remaining or tracker.failures:
        raise SystemExit(f"raw producer failed: {remaining} undelivered, {tracker.failures} failures")
    # process_time counts every thread of the driver, librdkafka's included, during the timed parts only.
    return {"records": records, "seconds": elapsed, "bytes": payload_bytes, "cpu_seconds": cpu}


def phase_dump(
    conn: KafkaConnection,
    topics: dict[str, str],
    workdir: Path,
    workers: int,
    engine: EngineChoice,
    horizon_ms: int,
) -> dict[str, float]:
    """The dump under test, in this (fresh) process."""
    request = DumpRequest(
        window_start=SESSION_START,
        window_end=SESSION_END,
        dump_path=workdir / "source-dump.jsonl.zst",
        marker_path=workdir / "source-dump.marker.json",
        source_topics=topics,
        run_token="bench",
    )
    began = time.perf_counter()
    tuning = DumpTuning(workers=workers, engine=engine, order_horizon_ms=horizon_ms)
    result = dump_source(conn, request, force=True, tuning=tuning)
    elapsed = time.perf_counter() - began
    return {
        "records": result.marker.records,
        "seconds": elapsed,
        "file_bytes": result.dump_path.stat().st_size,
        "streamed": result.streamed,
    }


def phase_raw_consume(conn: KafkaConnection, topics: dict[str, str]) -> dict[str, float]:
    """The baseline: the same window and consumer settings, touching every record, writing nothing."""
    consumer = Consumer(dump_consumer_config(conn, DumpTuning()))
    tps = [TopicPartition(t, p, _ms(SESSION_START)) for t in topics.values() for p in range(PARTITIONS)]
    began = time.perf_counter()
    starts = consumer.offsets_for_times(tps, 30)
    ends = {
        (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=30, cached=False)[1]
        for tp in tps
    }
    consumer.assign(starts)
    remaining = {k for k, end in ends.items() if end > 0}
    records = 0
    payload_bytes = 0
    while remaining:
        msg: Any
        for msg in consumer.consume(20_000, 0.5):
            if msg.error() is not None:
                continue
            key = (msg.topic(), msg.partition())
            offset = msg.offset()
            if offset >= ends[key]:
                continue
            value = msg.value()
            records += 1
            payload_bytes += len(value) + len(msg.key() or b"")
            if offset == ends[key] - 1:
                remaining.discard(key)
    elapsed = time.perf_counter() - began
    consumer.close()
    return {"records": records, "seconds": elapsed, "bytes": payload_bytes}


def phase_replay(
    conn: KafkaConnection, topics: dict[str, str], workdir: Path, token: str, engine: EngineChoice = "native"
) -> dict[str, float]:
    """The replay under test, in this (fresh) process, on the given engine (native: the Go engine)."""
    request = ReplayRequest(
        dump_path=workdir / "source-dump.jsonl.zst",
        run_token=token,
        marker_path=workdir / "replay-marker.json",
        source_topics=topics,
        default_partitions=PARTITIONS,
    )
    began = time.perf_counter()
    result = replay_dump(conn, request, force=True, tuning=ReplayTuning(engine=engine))
    elapsed = time.perf_counter() - began
    # The marker times the produce itself: without creating the four target topics and emptying them.
    return {"records": result.produced, "seconds": elapsed, "produce_seconds": result.marker.duration_seconds}


def _subprocess(
    phase: str, args: argparse.Namespace, topics: dict[str, str], workdir: Path, token: str = ""
) -> dict[str, float]:
    """Run one phase in a fresh interpreter; adds its CPU time and the peak RSS of its process tree."""
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--bootstrap-servers",
        args.bootstrap_servers,
        "--topics-json",
        json.dumps(topics),
        "--workdir",
        str(workdir),
        "--run-token",
        token,
        "--dump-workers",
        str(args.dump_workers),
        "--dump-engine",
        args.dump_engine,
        "--replay-engine",
        args.replay_engine,
        "--dump-horizon-ms",
        str(args.dump_horizon_ms),
    ]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = psutil.Popen(cmd, stdout=out, stderr=err)
        peak = peak_children = 0
        while proc.poll() is None:
            try:
                children = [p.memory_info().rss for p in proc.children(recursive=True) if p.is_running()]
                own = proc.memory_info().rss
                peak = max(peak, own + sum(children))
                peak_children = max(peak_children, sum(children))
            except psutil.Error:
                pass  # a process of the tree ended between listing and reading
            time.sleep(0.02)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"phase {phase} failed:\n{err.read().decode()[-3000:]}")
        result: dict[str, float] = json.loads(out.read().decode().strip().splitlines()[-1])
    # RUSAGE_CHILDREN accumulates over every waited-for child: subtract what earlier phases used.
    cpu = usage.ru_utime + usage.ru_stime
    result["cpu_seconds"] = cpu - _CHILD_CPU[0]
    _CHILD_CPU[0] = cpu
    result["peak_rss_mb"] = peak / 2**20
    result["peak_child_rss_mb"] = peak_children / 2**20
    return result


_CHILD_CPU = [0.0]


def _rate(result: dict[str, float]) -> float:
    return result["records"] / result["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument(
        "--bootstrap-servers",
        default=f"127.0.0.1:{os.environ.get('TORGHUT_DEVSTACK_KAFKA_PORT', '59092')}",
        help="default: the local stack's Kafka (TORGHUT_DEVSTACK_KAFKA_PORT)",
    )
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep topics and files")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of all four phases; each figure is its median round (the machine is noisy)",
    )
    parser.add_argument("--phase", choices=("all", "dump", "raw-consume", "replay"), default="all")
    parser.add_argument(
        "--dump-workers", type=int, default=DumpTuning().workers, help="DumpTuning.workers of the dump"
    )
    parser.add_argument(
        "--dump-engine",
        choices=("native", "python"),
        default="native",
        help="data path of the dump: the Go engine (native) or the Python reference",
    )
    parser.add_argument(
        "--replay-engine",
        choices=("native", "python"),
        default="native",
        help="data path of the replay: the Go engine (native) or the Python reference",
    )
    parser.add_argument(
        "--dump-horizon-ms",
        type=int,
        default=DumpTuning().order_horizon_ms,
        help="DumpTuning.order_horizon_ms: 0 skips writing while reading and always sorts externally",
    )
    parser.add_argument("--topics-json", help=argparse.SUPPRESS)
    parser.add_argument("--run-token", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    conn = KafkaConnection(args.bootstrap_servers)

    if args.phase != "all":
        topics = json.loads(args.topics_json)
        if args.phase == "dump":
            result = phase_dump(
                conn, topics, args.workdir, args.dump_workers, args.dump_engine, args.dump_horizon_ms
            )
        elif args.phase == "raw-consume":
            result = phase_raw_consume(conn, topics)
        else:
            result = phase_replay(conn, topics, args.workdir, args.run_token, args.replay_engine)
        print(json.dumps(result))
        return 0

    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    topics = {role: f"{prefix}.{role}" for role in ROLE_WEIGHTS}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kafka-bench-", dir=Path.cwd()))
    workdir.mkdir(parents=True, exist_ok=True)
    _create_topics(conn, list(topics.values()))
    try:
        rounds = [_round(conn, args, topics, workdir, prefix, n) for n in range(args.repeat)]
        return _print_summary(args, rounds)
    finally:
        if not args.keep:
            _delete_topics(conn, list(topics.values()))
            for path in sorted(workdir.glob("*"), reverse=True):
                if path.is_file():
                    path.unlink()
            workdir.rmdir()


def _replay_topics(token: str) -> list[str]:
    return [f"torghut.sim.{r if r != 'bars' else 'bars.1m'}.v1.{token}" for r in ROLE_WEIGHTS]


def _round(
    conn: KafkaConnection,
    args: argparse.Namespace,
    topics: dict[str, str],
    workdir: Path,
    prefix: str,
    number: int,
) -> dict[str, dict[str, float]]:
    """One round of the four phases, each baseline next to the phase it is compared with.

    The first round's raw producer writes the day that every round dumps; later rounds time the raw
    producer into fresh scratch topics, as the first did, and each replay goes to topics of its own.
    """
    label = f"round {number + 1}/{args.repeat}"
    scratch = topics if number == 0 else {r: f"{prefix}.r{number}.{r}" for r in ROLE_WEIGHTS}
    if number:
        _create_topics(conn, list(scratch.values()))
    print(f"{label}: raw producer, {args.records:,} records into {prefix}.* ...", file=sys.stderr)
    try:
        raw_produce = produce_day(conn, scratch, args.records)
    finally:
        if number and not args.keep:
            _delete_topics(conn, list(scratch.values()))
    print(f"{label}: raw consumer ...", file=sys.stderr)
    raw_consume = _subprocess("raw-consume", args, topics, workdir)
    print(f"{label}: dump ...", file=sys.stderr)
    dump = _subprocess("dump", args, topics, workdir)
    print(f"{label}: replay ...", file=sys.stderr)
    token = f"{prefix}_replay{number}"
    try:
        replay = _subprocess("replay", args, topics, workdir, token)
    finally:
        if not args.keep:
            _delete_topics(conn, _replay_topics(token))
    return {"raw consumer": raw_consume, "dump": dump, "raw producer": raw_produce, "replay": replay}


def _median_run(rounds: list[dict[str, dict[str, float]]], phase: str) -> dict[str, float]:
    """The round whose `phase` had the median rate (the lower middle one of an even count)."""
    ordered = sorted((r[phase] for r in rounds), key=_rate)
    return ordered[(len(ordered) - 1) // 2]


def _print_summary(args: argparse.Namespace, rounds: list[dict[str, dict[str, float]]]) -> int:
    """The figures table (median round per phase), the per-round ratios and the targets."""
    ratios = {
        "dump": sorted(_rate(r["dump"]) / _rate(r["raw consumer"]) for r in rounds),
        "replay": sorted(_rate(r["replay"]) / _rate(r["raw producer"]) for r in rounds),
    }
    # Each ratio compares a phase with its baseline of the same round; the median round's is reported.
    ratio = {phase: values[(len(values) - 1) // 2] for phase, values in ratios.items()}
    # Peak RSS is known for the phases that run in a subprocess: the highest of every round.
    peak = {
        phase: (
            max(r[phase]["peak_rss_mb"] for r in rounds),
            max(r[phase]["peak_child_rss_mb"] for r in rounds),
        )
        for phase in ("raw consumer", "dump", "replay")
    }
    mb = rounds[0]["raw producer"]["bytes"] / 1e6
    print(f"\n{args.records:,} records, {mb:,.0f} MB of keys+values, 4 topics x {PARTITIONS} partitions")
    workers = f", {args.dump_workers} worker(s)" if args.dump_engine == "python" else ""
    streamed = all(bool(r["dump"].get("streamed")) for r in rounds)
    print(
        f"dump engine: {args.dump_engine}{workers}; order horizon {args.dump_horizon_ms} ms; "
        f"written while reading: {streamed}"
    )
    print(f"replay engine: {args.replay_engine}; rounds: {len(rounds)} (each phase: its median round)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load} ({os.cpu_count()} CPUs)")
    print(
        f"{'phase':<14}{'records/s':>12}{'MB/s':>9}{'seconds':>9}{'CPU s':>8}{'CPU us/rec':>12}"
        f"{'peak RSS MB':>13}{'of which child':>16}{'ratio':>8}"
    )
    for name in ("raw consumer", "dump", "raw producer", "replay"):
        res = _median_run(rounds, name)
        rss, child = (f"{value:.0f}" for value in peak[name]) if name in peak else ("-", "-")
        share = f"{ratio[name]:.0%}" if name in ratio else ""
        cpu = res.get("cpu_seconds", 0.0)
        print(
            f"{name:<14}{_rate(res):>12,.0f}{mb / res['seconds']:>9.1f}{res['seconds']:>9.1f}{cpu:>8.1f}"
            f"{cpu / res['records'] * 1e6:>12.2f}{rss:>13}{child:>16}{share:>8}"
        )
    print("MB/s = keys+values of the day / seconds; CPU = user+sys of the phase (its worker processes")
    print("included; for the raw producer: its timed produce/flush, in the driver, whose RSS is not shown)")
    print("peak RSS = the phase's process tree, highest of every round; of which child = the native engine")
    print("or worker processes; ratio = the phase's rate / its baseline's rate in the same round")
    for phase, values in ratios.items():
        print(f"{phase} ratio by round: {', '.join(f'{v:.0%}' for v in values)}")
    replay = _median_run(rounds, "replay")
    produce_only = replay["records"] / replay["produce_seconds"] / _rate(_median_run(rounds, "raw producer"))
    print(
        f"replay without creating its topics: {replay['produce_seconds']:.1f} s, "
        f"{produce_only:.0%} of the raw producer"
    )
    print(f"dump file {rounds[0]['dump']['file_bytes'] / 1e6:,.1f} MB")
    checks = {
        "dump >= 70% of raw consumer": ratio["dump"] >= TARGET_RATIO,
        "replay >= 70% of raw producer": ratio["replay"] >= TARGET_RATIO,
        f"dump peak RSS < {RSS_LIMIT_MB} MB": peak["dump"][0] < RSS_LIMIT_MB,
        f"replay peak RSS < {RSS_LIMIT_MB} MB": peak["replay"][0] < RSS_LIMIT_MB,
        "all records dumped and replayed": all(
            r["dump"]["records"] == r["replay"]["records"] == args.records for r in rounds
        ),
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
