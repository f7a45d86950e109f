"""Why decisions were not executed: rejected and blocked decisions by stage, class, origin and reason.

The reasons live in `decision_json` (CONTRACTS §6). Rejected: `reject_reason_atomic`, else the
`;`-joined entries of `risk_reasons`; blocked: `submission_block_atomic`, else the `;`-joined
`submission_block_reason`. A decision counts each distinct reason once; codes are kept whole and grouped
by the part before the first `:`. A decision is refused when its status is rejected/blocked or its
`submission_stage` says so (e.g. `rejected_unfilled` on a canceled order).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import polars as pl

from torghut_sim.report.model import NotExecuted, NotExecutedGroup, ReasonCounts

REFUSED_STATUSES = ("rejected", "blocked")
UNSPECIFIED = "unspecified"


def group_of(reason: str) -> str:
    """The reason code without its `:detail` suffix."""
    return reason.split(":", 1)[0]


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _codes(values: Any) -> list[str]:
    """Codes of a list of (possibly `;`-joined) strings, or of one such string."""
    items = values if isinstance(values, list) else [values]
    return [
        part.strip() for item in items if isinstance(item, str) for part in item.split(";") if part.strip()
    ]


def reasons_of(doc: dict[str, Any], status: str) -> list[str]:
    """The distinct reason codes of one refused decision, in their written order."""
    stage = _text(doc.get("submission_stage")) or ""
    blocked = status == "blocked" or stage.startswith("blocked_")
    if blocked:
        codes = _codes(doc.get("submission_block_atomic")) or _codes(doc.get("submission_block_reason"))
    else:
        codes = _codes(doc.get("reject_reason_atomic")) or _codes(doc.get("risk_reasons"))
    return list(dict.fromkeys(codes)) or [UNSPECIFIED]


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


def refusal_candidates(decisions: pl.DataFrame) -> pl.DataFrame:
    """strategy_id, symbol, lower-case status and decision_json of the decisions that may be refusals.

    Rejected or blocked, or with a `submission_stage` in the document; `build_not_executed` decides."""
    status = pl.col("status").str.to_lowercase()
    return decisions.filter(
        status.is_in(REFUSED_STATUSES).fill_null(value=False)
        | pl.col("decision_json").str.contains('"submission_stage"', literal=True).fill_null(value=False)
    ).select("strategy_id", "symbol", status.alias("status"), "decision_json")


def build_not_executed(decisions: pl.DataFrame) -> NotExecuted:
    """The refused decisions among `decisions` (all, or their `refusal_candidates`) and why, overall and per
    strategy × symbol."""
    refused = refusal_candidates(decisions)
    stages: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    origins: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    groups: Counter[tuple[str, str, str, str]] = Counter()
    rejected = blocked = 0
    for strategy, symbol, raw_state, text in refused.iter_rows():
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {}
        doc = parsed if isinstance(parsed, dict) else {}
        stage = _text(doc.get("submission_stage"))
        state = raw_state or ""
        is_blocked = state == "blocked" or (stage or "").startswith("blocked_")
        if not is_blocked and state not in REFUSED_STATUSES and not (stage or "").startswith("rejected_"):
            continue  # a stage that is neither: not a refusal
        stage = stage or UNSPECIFIED
        stages[stage] += 1
        if is_blocked:
            blocked += 1
        else:
            rejected += 1
            classes[_text(doc.get("reject_class")) or UNSPECIFIED] += 1
            origins[_text(doc.get("reject_origin")) or UNSPECIFIED] += 1
        codes = reasons_of(doc, state)
        whole.update(codes)
        for reason_group in dict.fromkeys(group_of(c) for c in codes):
            groups[(strategy or "unknown", symbol or "unknown", stage, reason_group)] += 1
    by_group: Counter[str] = Counter()
    for code, count in whole.items():
        by_group[group_of(code)] += count
    return NotExecuted(
        decisions=rejected + blocked,
        rejected=rejected,
        blocked=blocked,
        by_stage=_sorted(stages),
        by_class=_sorted(classes),
        by_origin=_sorted(origins),
        reasons=ReasonCounts(total=sum(whole.values()), by_reason=_sorted(whole), by_group=_sorted(by_group)),
        by_strategy_symbol=[
            NotExecutedGroup(
                strategy_id=k[0], symbol=k[1], submission_stage=k[2], reason_group=k[3], decisions=n
            )
            for k, n in sorted(groups.items())
        ],
    )
