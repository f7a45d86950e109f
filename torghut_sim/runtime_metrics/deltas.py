"""What a run changed in the runtime's metrics: per-sample deltas between a scrape before and one after.

Counters only grow while the process lives, so a counter that went down means the runtime restarted in
between: the delta is then the value after (what was counted since the restart), never negative, and the
sample is listed as a restart. Gauges report their value after the run. A family or label set missing
from one scrape counts as 0 there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torghut_sim.runtime_metrics.prometheus import LabelKey, Scrape


@dataclass(frozen=True)
class SampleDelta:
    """One sample's value before and after the run, and what the run added to it."""

    labels: LabelKey
    before: float
    after: float
    delta: float
    reset: bool

    def as_json(self) -> dict[str, Any]:
        """JSON-able form: labels as an object."""
        return {
            "labels": dict(self.labels),
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "reset": self.reset,
        }


@dataclass
class MetricDeltas:
    """Every family's deltas, and whether any counter showed a process restart."""

    families: dict[str, tuple[str, list[SampleDelta]]] = field(default_factory=dict)

    @property
    def restarted(self) -> list[str]:
        """`family{labels}` of every counter sample that went down."""
        return [
            _describe(name, s.labels)
            for name, (_kind, samples) in sorted(self.families.items())
            for s in samples
            if s.reset
        ]

    def as_json(self) -> dict[str, Any]:
        """Families in name order, samples in label order."""
        return {
            "process_restarted": bool(self.restarted),
            "restarted_samples": self.restarted,
            "families": {
                name: {"type": kind, "samples": [s.as_json() for s in samples]}
                for name, (kind, samples) in sorted(self.families.items())
            },
        }


def _describe(name: str, labels: LabelKey) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return f"{name}{{{inner}}}" if labels else name


def compute_deltas(before: Scrape, after: Scrape) -> MetricDeltas:
    """Deltas of every counter and gauge either scrape mentions."""
    out = MetricDeltas()
    for name in sorted(set(before.families) | set(after.families)):
        b, a = before.families.get(name), after.families.get(name)
        kind = (a.type if a is not None and a.type != "untyped" else None) or (
            b.type if b is not None else "untyped"
        )
        b_samples = b.samples if b is not None else {}
        a_samples = a.samples if a is not None else {}
        samples = []
        for key in sorted(set(b_samples) | set(a_samples)):
            old, new = b_samples.get(key, 0.0), a_samples.get(key, 0.0)
            if kind == "gauge":
                samples.append(SampleDelta(key, old, new, new - old, reset=False))
            elif new < old:
                samples.append(SampleDelta(key, old, new, new, reset=True))
            else:
                samples.append(SampleDelta(key, old, new, new - old, reset=False))
        out.families[name] = (kind, samples)
    return out
