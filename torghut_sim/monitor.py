"""Waiting until every stage of the simulation has consumed the whole replayed window.

A run is done when, in two consecutive polls with identical figures: the TA's consumer group has
committed up to the end offsets of the replayed topics it reads, the TA's output topics (signals,
microbars) have landed in full in the simulation ClickHouse tables, the runtime's order-feed group (when
it consumes one) is at the end of its topic, and the runtime's cursor has reached the window end (less
`cursor_grace_seconds`). Signals that land at or behind the runtime's cursor after it passed them are
counted: the runtime never read them. The result records what each stage reached; a monitor that ended
on its timeout, or whose runtime missed signals, marks the run's inputs as cut short.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.kafka.group_offsets import GroupOffsets, read_group_offsets, topic_records
from torghut_sim.manifest.run_settings import MonitorSpec
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint, table_progress
from torghut_sim.tables import ACTIVITY_TABLES

# Replayed roles the TA always reads; any other replayed topic its group commits on is checked as well.
TA_REQUIRED_ROLES: tuple[str, ...] = ("trades", "quotes")
# The TA's output topics and the ClickHouse tables they must land in.
TA_OUTPUT_ROLES: tuple[str, ...] = ("ta_signals", "ta_microbars")
STAGES: tuple[str, ...] = ("ta_input", "ta_output", "order_feed", "runtime")
# Why a run's inputs count as cut short; stable codes for the report and the checks.
PROBLEM_CODES: dict[str, str] = {
    "ta_input": "ta_input_incomplete",
    "ta_output": "ta_output_incomplete",
    "order_feed": "order_feed_incomplete",
    "runtime": "cursor_short_of_window_end",
}


@dataclass(frozen=True)
class RuntimeProgress:
    """One poll of the simulation database."""

    cursor_at: datetime | None
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures for run-state.json."""
        data = asdict(self)
        data["cursor_at"] = self.cursor_at.isoformat() if self.cursor_at else None
        return data


@dataclass(frozen=True)
class MonitorTargets:
    """Where each stage's progress is read: the run's databases, topics and consumer groups."""

    simulation_dsn: str
    kafka_config: Mapping[str, str]
    clickhouse: ClickHouseEndpoint
    clickhouse_database: str
    ta_group: str
    # role -> run topic, for the replayed roles and the TA's output roles.
    replayed_topics: Mapping[str, str]
    ta_output_topics: Mapping[str, str]
    order_feed_group: str
    order_feed_topic: str


@dataclass(frozen=True)
class StagePoll:
    """Everything one poll read, in the order that keeps the comparison sound (cursor first)."""

    runtime: RuntimeProgress
    ta_input: GroupOffsets
    ta_output: dict[str, dict[str, int]]
    order_feed: GroupOffsets
    # Signals in ClickHouse at or before the previous poll's cursor, and at or before this poll's cursor.
    signals_upto_previous_cursor: int = 0
    signals_upto_cursor: int = 0

    def fingerprint(self) -> tuple[Any, ...]:
        """The figures that must not change between the two final polls."""
        return (
            self.runtime.cursor_at,
            tuple(sorted(self.runtime.counts.items())),
            tuple((p.topic, p.partition, p.high, p.committed) for p in self.ta_input.partitions),
            tuple((k, tuple(sorted(v.items()))) for k, v in sorted(self.ta_output.items())),
            tuple((p.topic, p.partition, p.high, p.committed) for p in self.order_feed.partitions),
        )


@dataclass(frozen=True)
class StageState:
    """Whether one stage consumed the whole window, and the figures it reached."""

    complete: bool
    reached: dict[str, Any]


@dataclass(frozen=True)
class MonitorResult:
    """How the monitor ended and what every stage reached; `complete` is False when inputs were cut short."""

    ended: str  # "stable" (every stage done, twice in a row) or "timeout"
    stages: dict[str, StageState]
    progress: RuntimeProgress
    polls: int
    signals_behind_cursor: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every stage consumed the whole window and the runtime read every signal."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready evidence for `monitor.json` and run-state.json."""
        return {
            "complete": self.complete,
            "ended": self.ended,
            "problems": list(self.problems),
            "polls": self.polls,
            "signals_behind_cursor": self.signals_behind_cursor,
            "stages": {
                name: {"complete": s.complete, "reached": s.reached} for name, s in self.stages.items()
            },
            **self.progress.as_dict(),
        }

    def write(self, path: Path) -> None:
        """Write `monitor.json` atomically (temp file + rename)."""
        write_json_atomic(path, self.as_dict())


def read_progress(simulation_dsn: str) -> RuntimeProgress:
    """The cursor and the activity row counts of the simulation database."""
    with psycopg.connect(simulation_dsn, connect_timeout=10) as conn:
        row = conn.execute("select max(cursor_at) from trade_cursor").fetchone()
        counts: dict[str, int] = {}
        for table in ACTIVITY_TABLES:
            count = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table))).fetchone()
            counts[table] = int(count[0]) if count else 0
    return RuntimeProgress(cursor_at=row[0] if row else None, counts=counts)


def reached_end(progress: RuntimeProgress, window_end: datetime, grace: timedelta) -> bool:
    """True when the cursor is within the grace of the window end."""
    return progress.cursor_at is not None and progress.cursor_at >= window_end - grace


def _ms(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value is not None else -1


def _signals_upto(
    targets: MonitorTargets, previous: datetime | None, current: datetime | None
) -> tuple[int, int]:
    """Distinct signals at or before the previous and the current cursor (a cursor not set counts none)."""
    # Distinct keys: a TA restart that writes a second copy of a signal adds nothing the runtime missed.
    db = targets.clickhouse_database.replace("`", "")
    query = (
        f"SELECT uniqExactIf((symbol, event_ts), toUnixTimestamp64Milli(event_ts) <= {_ms(previous)}), "
        f"uniqExactIf((symbol, event_ts), toUnixTimestamp64Milli(event_ts) <= {_ms(current)}) "
        f"FROM `{db}`.`ta_signals`"
    )
    client = targets.clickhouse.client()
    try:
        row = client.query(query).result_rows[0]
    finally:
        client.close()
    return int(row[0]), int(row[1])


def ta_input_topics(targets: MonitorTargets, committed_on: set[str]) -> list[str]:
    """The replayed topics the TA must have consumed: the required roles and any it committed on."""
    topics = [t for r, t in targets.replayed_topics.items() if r in TA_REQUIRED_ROLES or t in committed_on]
    return sorted(topics)


def poll_stages(targets: MonitorTargets, previous_cursor: datetime | None) -> StagePoll:
    """Read every stage once; the runtime first, so a later stage is never judged older than it."""
    runtime = read_progress(targets.simulation_dsn)
    everything = read_group_offsets(
        targets.kafka_config, targets.ta_group, sorted(targets.replayed_topics.values())
    )
    wanted = set(ta_input_topics(targets, everything.committed_topics()))
    ta_input = GroupOffsets(
        everything.group,
        tuple(p for p in everything.partitions if p.topic in wanted),
        tuple(t for t in everything.missing_topics if t in wanted),
    )
    records = topic_records(targets.kafka_config, list(targets.ta_output_topics.values()))
    rows = {p.table: p.rows for p in table_progress(targets.clickhouse, targets.clickhouse_database)}
    ta_output = {
        role: {"topic_records": records[topic], "clickhouse_rows": int(rows.get(role, 0))}
        for role, topic in sorted(targets.ta_output_topics.items())
    }
    order_feed = read_group_offsets(
        targets.kafka_config, targets.order_feed_group, [targets.order_feed_topic]
    )
    behind, upto = _signals_upto(targets, previous_cursor, runtime.cursor_at)
    return StagePoll(runtime, ta_input, ta_output, order_feed, behind, upto)


def assess(poll: StagePoll, window_end: datetime, grace: timedelta) -> dict[str, StageState]:
    """Each stage's completeness in one poll, with the figures it reached."""
    output_done = all(v["clickhouse_rows"] >= v["topic_records"] for v in poll.ta_output.values())
    # The runtime's order feed is checked only when its group consumes the topic at all.
    feed_used = bool(poll.order_feed.committed_topics())
    return {
        "ta_input": StageState(
            poll.ta_input.caught_up and bool(poll.ta_input.partitions), poll.ta_input.as_dict()
        ),
        "ta_output": StageState(output_done, dict(poll.ta_output)),
        "order_feed": StageState(
            poll.order_feed.caught_up or not feed_used,
            {**poll.order_feed.as_dict(), "applicable": feed_used},
        ),
        "runtime": StageState(
            reached_end(poll.runtime, window_end, grace),
            {**poll.runtime.as_dict(), "window_end": window_end.isoformat()},
        ),
    }


def wait_for_window(
    targets: MonitorTargets,
    window_end: datetime,
    spec: MonitorSpec,
    on_poll: Callable[[RuntimeProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    poll: Callable[[MonitorTargets, datetime | None], StagePoll] = poll_stages,
) -> MonitorResult:
    """Poll until every stage is complete and unchanged over two polls, or until the timeout.

    `on_poll` may raise to stop (e.g. on drift). The timeout does not raise: the result says the run's
    inputs were cut short, and the report fails on it.
    """
    deadline = clock() + spec.timeout_seconds
    grace = timedelta(seconds=spec.cursor_grace_seconds)
    previous: StagePoll | None = None
    previous_done = False
    behind = 0
    polls = 0
    while True:
        current = poll(targets, previous.runtime.cursor_at if previous else None)
        polls += 1
        if previous is not None:
            # Signals that appeared at or behind a cursor the runtime had already passed.
            behind += max(current.signals_upto_previous_cursor - previous.signals_upto_cursor, 0)
        if on_poll is not None:
            on_poll(current.runtime)
        stages = assess(current, window_end, grace)
        done = all(s.complete for s in stages.values())
        stable = (
            previous is not None
            and previous_done
            and done
            and previous.fingerprint() == current.fingerprint()
        )
        timed_out = clock() >= deadline
        if stable or timed_out:
            problems = [PROBLEM_CODES[name] for name in STAGES if not stages[name].complete]
            if behind:
                problems.append("signals_behind_cursor")
            if not stable:
                problems.append("monitor_timeout")
            return MonitorResult(
                ended="stable" if stable else "timeout",
                stages=stages,
                progress=current.runtime,
                polls=polls,
                signals_behind_cursor=behind,
                problems=problems,
            )
        previous, previous_done = current, done
        sleep(spec.poll_seconds)
