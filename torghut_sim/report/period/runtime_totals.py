"""Totals of the runtime's metrics over a range, from each day's `runtime_metrics` report section.

The section's shape belongs to the per-day report; the period reads it generically: nested objects
become dotted paths, lists of objects are keyed by their text fields (`by_reason[reason=x].count`).
Integers are per-day counter deltas and are summed; a figure that is a level rather than a count
(a streak, an `*_active` flag, a `max_*`/`*_max`) keeps the range's maximum; a true boolean counts
one day (`process_restarted`: the days the runtime restarted). Floats (rates, gauges) and text do not add
up across days and are left out. A day whose section has a `status` other than `ok` has no metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torghut_sim.report.period.model import RuntimeTotals


def _is_level(path: str) -> bool:
    """Whether a figure is a level (max over days) rather than a per-day count (summed)."""
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return "streak" in leaf or leaf.endswith(("_active", "_max")) or leaf.startswith("max_")


def _label(item: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(item.items()) if isinstance(v, str))


def flatten_figures(section: Mapping[str, Any], prefix: str = "") -> dict[str, int]:
    """Integer and boolean figures of a section by dotted path (booleans as 0/1)."""
    out: dict[str, int] = {}
    for key, value in section.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, bool):
            out[path] = int(value)
        elif isinstance(value, int):
            out[path] = value
        elif isinstance(value, Mapping):
            out.update(flatten_figures(value, path))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.update(flatten_figures(item, f"{path}[{_label(item) or index}]"))
    return out


def _has_metrics(section: Mapping[str, Any]) -> bool:
    # A section that says the runtime exposed nothing (`status` other than ok, `available` false) is a day
    # without metrics, not a day of zeros.
    return (
        bool(section) and section.get("status", "ok") == "ok" and section.get("available", True) is not False
    )


def runtime_totals(days: Iterable[tuple[str, Mapping[str, Any] | None]]) -> RuntimeTotals:
    """Totals over (day, runtime_metrics section or None) of the reported days, keys sorted."""
    totals: dict[str, int] = {}
    with_metrics = 0
    without: list[str] = []
    for day, section in days:
        if section is None or not _has_metrics(section):
            without.append(day)
            continue
        with_metrics += 1
        for path, value in flatten_figures(section).items():
            if _is_level(path):
                totals[path] = max(totals.get(path, value), value)
            else:
                totals[path] = totals.get(path, 0) + value
    return RuntimeTotals(
        days_with_metrics=with_metrics,
        days_without_metrics=without,
        totals=dict(sorted(totals.items())),
    )
