"""The period report contract `torghut.simulation-period-report.v1`: a range of days, exact decimals."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from torghut_sim.report.model import ArtifactFile, Caveat, ExactDecimal, Verdict, VerdictReason

PERIOD_SCHEMA_VERSION: Final = "torghut.simulation-period-report.v1"

# What became of a trading day of the range; only `reported` days carry figures.
DayStatus = Literal[
    "reported",  # the day's report exists and its run did not fail afterwards
    "empty_day",  # the dump found no source records in the session
    "failed",  # the run failed or was interrupted
    "restore_required",  # the run could not restore the runtime
    "in_progress",  # the run is still going
    "no_report",  # the run directory exists but holds no report (yet)
    "report_invalid",  # the report file exists but does not read as a v1 report
    "not_run",  # no run directory for the day
]
DAY_STATUSES: Final[tuple[DayStatus, ...]] = (
    "reported",
    "empty_day",
    "failed",
    "restore_required",
    "in_progress",
    "no_report",
    "report_invalid",
    "not_run",
)


class _Section(BaseModel):
    """Every section: immutable, no unknown fields, so the schema is the whole truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodMetadata(_Section):
    """Which days, which run of each day, and when the report was made."""

    period_id: str
    from_date: str
    to_date: str
    sequence: int
    trading_days: int
    generated_at: str


class PeriodDay(_Section):
    """One trading day of the range: what became of it, its verdict and P&L, and the equity after it."""

    trading_day: str
    run_id: str
    run_token: str
    status: DayStatus
    detail: str | None
    verdict: Verdict | None
    verdict_reasons: list[VerdictReason]
    realized: ExactDecimal | None
    unrealized: ExactDecimal | None
    gross: ExactDecimal | None
    costs: ExactDecimal | None
    net: ExactDecimal | None
    turnover: ExactDecimal | None
    fills: int | None
    decisions: int | None
    executions: int | None
    intraday_max_drawdown: ExactDecimal | None
    cumulative_net: ExactDecimal
    drawdown: ExactDecimal
    runtime_metrics: bool


class PeriodTotals(_Section):
    """Counts of days by status and verdict, and the P&L and activity summed over the reported days."""

    days_listed: int
    days_reported: int
    status_counts: dict[str, int]
    verdict_counts: dict[str, int]
    profitable_days: int
    losing_days: int
    flat_days: int
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    turnover: ExactDecimal
    fills: int
    decisions: int
    executions: int
    closing_fills: int
    wins: int
    losses: int
    win_rate: float | None
    best_day: str | None
    best_day_net: ExactDecimal | None
    worst_day: str | None
    worst_day_net: ExactDecimal | None


class DrawdownDay(_Section):
    """A reported day inside the worst drawdown and its net P&L."""

    trading_day: str
    net: ExactDecimal


class PeriodDrawdown(_Section):
    """The worst fall of cumulative net equity from a running peak (start of the range = 0)."""

    max_drawdown: ExactDecimal
    peak_day: str | None
    peak_equity: ExactDecimal
    trough_day: str | None
    trough_equity: ExactDecimal
    recovered_day: str | None
    days: list[DrawdownDay]


class PeriodSymbol(_Section):
    """One symbol's P&L and activity summed over the reported days."""

    symbol: str
    days_traded: int
    fills: int
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    turnover: ExactDecimal
    closing_fills: int
    wins: int
    losses: int


class RuntimeTotals(_Section):
    """The runtime's metric figures over the reported days that carried a `runtime_metrics` section."""

    days_with_metrics: int
    days_without_metrics: list[str]
    totals: dict[str, int]


class PeriodArtifacts(_Section):
    """The day reports read (inputs) and the files written beside the JSON."""

    inputs: list[ArtifactFile]
    outputs: list[ArtifactFile]


class SimulationPeriodReport(_Section):
    """The report of a range of trading days, built from the per-day reports."""

    schema_version: Literal["torghut.simulation-period-report.v1"] = "torghut.simulation-period-report.v1"
    period: PeriodMetadata
    days: list[PeriodDay]
    totals: PeriodTotals
    drawdown: PeriodDrawdown
    by_symbol: list[PeriodSymbol]
    runtime_metrics: RuntimeTotals
    artifacts: PeriodArtifacts
    caveats: list[Caveat]
