"""What a replay is asked to do: the dump, the run's topics, pacing, and the producer's tuning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torghut_sim.dump.request import DEFAULT_SOURCE_TOPICS
from torghut_sim.kafka.engine import EngineChoice
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.pacing import PaceSettings
from torghut_sim.topics import simulation_topic


@dataclass(frozen=True)
class ReplayTuning:
    """Producer batching, the patience of the final flush, and which engine runs the data path."""

    linger_ms: int = 25
    batch_size: int = 1_000_000
    compression_type: str = "lz4"
    queue_max_kbytes: int = 131_072
    queue_max_messages: int = 500_000
    delivery_timeout_ms: int = 120_000
    flush_timeout_seconds: float = 30.0
    flush_attempts: int = 4
    poll_every: int = 4_096
    metadata_timeout_seconds: float = 15.0
    producer_overrides: Mapping[str, Any] = field(default_factory=dict)
    # auto: the native engine when it is built, else Python; native: insist; python: never the engine.
    # Paced replays (event_time, accelerated) always run in Python: the pace, not the data path, sets
    # their speed.
    engine: EngineChoice = "auto"
    native_parse_workers: int = 0  # the engine's line parsers; 0 = one per CPU


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay where: the dump, the run, the marker path, pacing and topic sizing."""

    dump_path: Path
    run_token: str
    marker_path: Path
    source_topics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCE_TOPICS))
    pace: PaceSettings = field(default_factory=PaceSettings)
    default_partitions: int = 6
    replication_factor: int = 1
    expected_records: int | None = None

    def topic_map(self) -> dict[str, str]:
        """Source topic -> simulation topic of this run."""
        if not self.run_token:
            raise ReplayError("run_token is empty", reason="replay_run_token_invalid")
        return {source: simulation_topic(role, self.run_token) for role, source in self.source_topics.items()}
