"""Stability, verdict, artifacts and caveats: what the report concludes and what it rests on."""

from __future__ import annotations

from torghut_sim.report.model.base import Section, Severity, Verdict


class Anomaly(Section):
    """One stability finding with a stable code."""

    code: str
    severity: Severity
    message: str


class ComponentProgress(Section):
    """The last progress row the runtime wrote for one component."""

    component: str
    status: str | None
    last_error: str | None


class Stability(Section):
    """Runtime health over the run: anomalies, component errors, signal gaps, routing provenance."""

    anomalies: list[Anomaly]
    components: list[ComponentProgress]
    runtime_errors: int
    feature_quality_errors: int
    longest_signal_gap_minutes: float | None
    emergency_stop_flags: int


class VerdictReason(Section):
    """Why the verdict is what it is: a stable code, its severity and a readable message."""

    code: str
    severity: Severity
    message: str


class VerdictSection(Section):
    """The governance verdict of the run."""

    status: Verdict
    reasons: list[VerdictReason]


class ArtifactFile(Section):
    """A file the report read or wrote, with its size in rows and its content hash."""

    name: str
    role: str
    rows: int | None
    sha256: str | None


class Artifacts(Section):
    """The evidence behind the report (inputs) and the files it produced beside the JSON."""

    inputs: list[ArtifactFile]
    outputs: list[ArtifactFile]


class Caveat(Section):
    """A limit of a metric the reader must know before trusting it."""

    code: str
    message: str
