"""Run metadata and coverage sections of the report: who, when, and how complete the inputs were."""

from __future__ import annotations

from pydantic import Field

from torghut_sim.report.model.base import ExactDecimal, Section


class RunMetadata(Section):
    """Who, when and under which cost assumptions this report was made."""

    run_id: str
    run_token: str | None
    dataset_id: str | None
    trading_day: str | None
    window_start: str | None
    window_end: str | None
    generated_at: str
    final_phase: str | None
    final_status: str | None
    scoped_by_run_id: bool
    commission_bps: ExactDecimal
    per_trade_fee: ExactDecimal
    llm_price_per_1k_tokens: ExactDecimal


class Coverage(Section):
    """Data integrity of the dump and replay: session coverage, counts, offsets, window discipline."""

    dump_available: bool
    dump_status: str | None
    session_minutes: int | None
    covered_minutes: int | None
    coverage_ratio: float | None
    strict_coverage_ratio: float
    min_coverage_minutes: int | None
    meets_strict_ratio: bool | None
    records_dumped: int | None
    expected_records: int | None
    records_by_topic: dict[str, int]
    out_of_window_skipped: int | None
    out_of_window_rate: float | None
    partitions: int
    partitions_with_offset_gaps: list[str]
    offset_gap_records: int
    replay_available: bool
    records_replayed: int | None
    replay_records_by_topic: dict[str, int]
    replay_matches_dump: bool | None
    replay_pace_mode: str | None
    replay_duration_seconds: float | None
    clickhouse_rows: dict[str, int]
    # False when the monitor ended on its timeout or a stage had not consumed the whole window; None
    # when the run left no monitor evidence.
    inputs_complete: bool | None = None
    inputs_incomplete_reasons: list[str] = Field(default_factory=list)
