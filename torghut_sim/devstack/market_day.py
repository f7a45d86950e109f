"""Seeding the local production source topics with one generated historical market day (`devstack seed-day`).

Owns the topic set (production source topics by default, injectable for tests), their creation with
3 partitions, the fast batched producer with historical CreateTime timestamps, and the per-day seed
marker in the state directory that keeps a day from being seeded twice unless forced.

Days are only ever appended in time order. A dump finds its window by Kafka's time index, which
assumes timestamps that (nearly) only grow along a partition, as they do in production; a day
appended behind later days would be invisible to it. So a day that would land behind records of its
own date or later is refused, unless the seeding resets the topics first (all their records and their
seed markers go).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.calendar import is_trading_day, session_window
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.market_walk import ROLES, DaySpec, generate
from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import quiet
from torghut_sim.kafka.readiness import TopicCreateError, create_topics, read_offsets
from torghut_sim.topics import ROLES_BY_NAME

SOURCE_PARTITIONS = 3
PRODUCTION_SOURCE_TOPICS: dict[str, str] = {role: ROLES_BY_NAME[role].source for role in ROLES}
SCALE_RATES: dict[str, float] = {"small": 0.5, "full": 8.0}
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class SeedRequest:
    """One seeding: the generated day, where it goes, and where its marker lives."""

    spec: DaySpec
    bootstrap_servers: str
    marker_dir: Path
    topics: Mapping[str, str] = field(default_factory=lambda: dict(PRODUCTION_SOURCE_TOPICS))
    force: bool = False
    # Delete every record of the topics (and this target's seed markers) when the day would otherwise
    # land behind records of its own date or later.
    reset: bool = False
    partitions: int = SOURCE_PARTITIONS

    @property
    def target_fingerprint(self) -> str:
        """A short hash of the cluster and topics: a marker only speaks for the same target."""
        text = json.dumps({"bootstrap": self.bootstrap_servers, "topics": dict(self.topics)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def marker_path(self) -> Path:
        """The marker of this day on this target."""
        return self.marker_dir / f"{self.spec.day.isoformat()}-{self.target_fingerprint}.json"

    def target_markers(self) -> list[Path]:
        """Every day's marker on this target."""
        return sorted(self.marker_dir.glob(f"*-{self.target_fingerprint}.json"))


@dataclass(frozen=True)
class SeedResult:
    """What a seeding did: `seeded`, `already_seeded` or `not_a_trading_day`, with its figures."""

    status: str
    day: str
    records: int = 0
    records_by_topic: dict[str, int] = field(default_factory=dict)
    min_timestamp_ms: int | None = None
    max_timestamp_ms: int | None = None
    values_sha256: str | None = None
    seconds: float = 0.0
    marker: str | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "status": self.status,
            "day": self.day,
            "records": self.records,
            "records_by_topic": self.records_by_topic,
            "min_timestamp_ms": self.min_timestamp_ms,
            "max_timestamp_ms": self.max_timestamp_ms,
            "values_sha256": self.values_sha256,
            "seconds": round(self.seconds, 3),
            "marker": self.marker,
            "message": self.message,
        }


def ensure_topics(bootstrap_servers: str, topics: list[str], partitions: int, timeout: float = 60.0) -> None:
    """Create each missing topic with `partitions` partitions; wait until every partition's leader answers."""
    try:
        create_topics(
            {"bootstrap.servers": bootstrap_servers}, dict.fromkeys(topics, partitions), timeout=timeout
        )
    except TorghutSimError as exc:
        reason = "seed_topic_create_failed" if isinstance(exc, TopicCreateError) else exc.reason
        raise DevstackError(reason, exc.message) from None


def partitions_reaching(
    bootstrap_servers: str, topics: list[str], from_ms: int, timeout: float = 60.0
) -> list[str]:
    """`topic[partition]` of every partition holding a record timestamped at or after `from_ms`."""
    try:
        # The time index answers -1 for a partition with no record at or after the time.
        found = read_offsets({"bootstrap.servers": bootstrap_servers}, topics, (from_ms,), timeout)[from_ms]
    except TorghutSimError as exc:
        raise DevstackError(exc.reason, f"reading the topics' time index: {exc.message}") from None
    return [f"{topic}[{partition}]" for (topic, partition), offset in sorted(found.items()) if offset >= 0]


def reset_topics(request: SeedRequest, timeout: float = 30.0) -> None:
    """Delete every record of the request's topics and every seed marker of its target."""
    admin = AdminClient({"bootstrap.servers": request.bootstrap_servers})
    metadata = admin.list_topics(timeout=timeout).topics
    offsets = [
        TopicPartition(t, p, OFFSET_END)
        for t in sorted(set(request.topics.values()))
        for p in metadata[t].partitions
    ]
    for tp, future in admin.delete_records(offsets, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            raise DevstackError(
                "seed_reset_failed", f"deleting the records of {tp.topic}[{tp.partition}]: {exc}"
            ) from exc
    for marker in request.target_markers():
        marker.unlink(missing_ok=True)


def _ensure_in_time_order(request: SeedRequest) -> None:
    """Refuse (or with `reset`, clear the topics first) when the day would land behind later records."""
    day = request.spec.day
    day_start_ms = int(datetime.combine(day, clock_time(0), NEW_YORK).timestamp() * 1000)
    topics = sorted(set(request.topics.values()))
    ahead = partitions_reaching(request.bootstrap_servers, topics, day_start_ms)
    if not ahead:
        return
    if not request.reset:
        shown = ", ".join(ahead[:3]) + (f" and {len(ahead) - 3} more" if len(ahead) > 3 else "")
        raise DevstackError(
            "seed_out_of_order",
            f"{shown} already hold records of {day} or later; appended behind them, {day} could not be "
            "found by its time window (production topics only grow in time). Pass --reset to delete "
            "the records of these topics and their seed markers first",
        )
    reset_topics(request)


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class _Delivery:
    """Counts delivery failures; the first error is kept for the message."""

    def __init__(self) -> None:
        self.failures = 0
        self.first_error: KafkaError | None = None

    def __call__(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self.failures += 1
            self.first_error = self.first_error or err


def seed_day(request: SeedRequest) -> SeedResult:
    """Produce the generated day into the source topics unless this day was already seeded there."""
    spec = request.spec
    day = spec.day.isoformat()
    if not is_trading_day(spec.day):
        return SeedResult(
            "not_a_trading_day", day, message=f"{day} is not an NYSE trading day: nothing produced"
        )
    marker = _read_marker(request.marker_path)
    if marker is not None and not request.force:
        if marker.get("spec") != spec.as_dict():
            raise DevstackError(
                "day_already_seeded",
                f"{day} was already seeded into these topics with other arguments "
                f"({request.marker_path}); pass --force to seed again",
            )
        return SeedResult(
            "already_seeded",
            day,
            records=int(marker.get("records", 0)),
            records_by_topic=dict(marker.get("records_by_topic", {})),
            values_sha256=marker.get("values_sha256"),
            marker=str(request.marker_path),
            message=f"{day} is already seeded (marker {request.marker_path}); pass --force to seed again",
        )
    window = session_window(spec.day)
    ensure_topics(request.bootstrap_servers, sorted(set(request.topics.values())), request.partitions)
    _ensure_in_time_order(request)
    delivery = _Delivery()
    # librdkafka's own log (a cold broker's "coordinator load in progress" retries) stays off stderr.
    producer = Producer(
        quiet(
            {
                "bootstrap.servers": request.bootstrap_servers,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 50,
                "batch.size": 1_000_000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                "queue.buffering.max.kbytes": 512_000,
                "delivery.report.only.error": True,
                "on_delivery": delivery,
            }
        )
    )
    began = time.monotonic()
    counts: Counter[str] = Counter()
    digest = hashlib.sha256()
    low: int | None = None
    high: int | None = None
    for produced, record in enumerate(generate(spec, window), start=1):
        topic = request.topics[record.role]
        digest.update(record.value)
        while True:
            try:
                producer.produce(topic, record.value, record.key, timestamp=record.timestamp_ms)
                break
            except BufferError:
                # The local queue is full: let the broker catch up rather than dropping records.
                producer.poll(0.05)
        counts[topic] += 1
        low = record.timestamp_ms if low is None else min(low, record.timestamp_ms)
        high = record.timestamp_ms if high is None else max(high, record.timestamp_ms)
        if produced % 10_000 == 0:
            # Serve delivery callbacks regularly without paying for a poll per record.
            producer.poll(0)
    remaining = producer.flush(120)
    if remaining or delivery.failures:
        raise DevstackError(
            "seed_produce_failed",
            f"{delivery.failures} records failed, {remaining} undelivered: {delivery.first_error}",
        )
    seconds = time.monotonic() - began
    total = sum(counts.values())
    result = SeedResult(
        "seeded",
        day,
        records=total,
        records_by_topic=dict(sorted(counts.items())),
        min_timestamp_ms=low,
        max_timestamp_ms=high,
        values_sha256=digest.hexdigest(),
        seconds=seconds,
        marker=str(request.marker_path),
        message=f"{day}: {total} records in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f}/s)",
    )
    write_text_atomic(
        request.marker_path,
        json.dumps(
            {
                **result.as_dict(),
                "spec": spec.as_dict(),
                "topics": dict(request.topics),
                "bootstrap_servers": request.bootstrap_servers,
                "session_start": window.session_start.isoformat(),
                "session_end": window.session_end.isoformat(),
                "seeded_at": datetime.now(UTC).isoformat(),
            },
            indent=2,
            sort_keys=True,
        ),
    )
    return result
