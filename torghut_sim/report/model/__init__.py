"""The report contract `torghut.simulation-report.v1`: pydantic models of every section, exact decimals.

One module per concern; every model is importable from here."""

from __future__ import annotations

from typing import Literal

from torghut_sim.report.model.base import (
    SCHEMA_VERSION,
    ExactDecimal,
    MarkSource,
    Section,
    Severity,
    Verdict,
    format_decimal,
)
from torghut_sim.report.model.coverage import Coverage, RunMetadata
from torghut_sim.report.model.execution import BpsStats, ExecutionQuality, LatencyBucket, LatencyStats
from torghut_sim.report.model.funnel import (
    Funnel,
    NotExecuted,
    NotExecutedGroup,
    ReasonCounts,
    StrategySymbolFunnel,
)
from torghut_sim.report.model.governance import (
    Anomaly,
    ArtifactFile,
    Artifacts,
    Caveat,
    ComponentProgress,
    Stability,
    VerdictReason,
    VerdictSection,
)
from torghut_sim.report.model.llm import Llm, LlmGroup, VerdictOutcome
from torghut_sim.report.model.pnl import Pnl, SymbolPnl, TcaProxy
from torghut_sim.report.model.runtime import (
    FallbackCount,
    RuntimeLlmCounters,
    RuntimeMetrics,
    StrategyReasonCount,
)

__all__ = [
    "SCHEMA_VERSION",
    "Anomaly",
    "ArtifactFile",
    "Artifacts",
    "BpsStats",
    "Caveat",
    "ComponentProgress",
    "Coverage",
    "ExactDecimal",
    "ExecutionQuality",
    "FallbackCount",
    "Funnel",
    "LatencyBucket",
    "LatencyStats",
    "Llm",
    "LlmGroup",
    "MarkSource",
    "NotExecuted",
    "NotExecutedGroup",
    "Pnl",
    "ReasonCounts",
    "RunMetadata",
    "RuntimeLlmCounters",
    "RuntimeMetrics",
    "Section",
    "Severity",
    "SimulationReport",
    "Stability",
    "StrategyReasonCount",
    "StrategySymbolFunnel",
    "SymbolPnl",
    "TcaProxy",
    "Verdict",
    "VerdictOutcome",
    "VerdictReason",
    "VerdictSection",
    "format_decimal",
]


class SimulationReport(Section):
    """The whole report of one simulation run."""

    schema_version: Literal["torghut.simulation-report.v1"] = "torghut.simulation-report.v1"
    run_metadata: RunMetadata
    coverage: Coverage
    funnel: Funnel
    execution_quality: ExecutionQuality
    pnl: Pnl
    llm: Llm
    # Added within v1: absent from reports made before the runtime served metrics.
    runtime_metrics: RuntimeMetrics | None = None
    stability: Stability
    verdict: VerdictSection
    artifacts: Artifacts
    caveats: list[Caveat]
