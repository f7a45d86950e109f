"""The LLM section: review verdicts, errors, confidence and calibration, tokens and cost, outcomes.

Calibration is a proxy: a review "agrees" with the outcome when approve/adjust led to a filled
execution of its decision, or veto/abstain/escalate led to none; the gap is mean confidence minus
that agreement rate (positive = over-confident).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from torghut_sim.report.figures import MONEY_SCALE, WIDE, rate, rounded, scaled
from torghut_sim.report.model import Llm, LlmGroup, VerdictOutcome, format_decimal

VERDICTS = ("approve", "veto", "adjust", "abstain", "escalate", "error")
_GO = ("approve", "adjust")
_STOP = ("veto", "abstain", "escalate")
# Keys the runtime may put in response_json; the first present one counts.
FALLBACK_KEYS = ("fallback", "fallback_used", "used_fallback", "is_fallback")
GUARDRAIL_KEYS = ("guardrail_triggered", "deterministic_guardrail", "guardrail", "guardrail_applied")
_TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class LlmResult:
    """The section and the per model × prompt version summary table behind it."""

    section: Llm
    summary: pl.DataFrame


def _flag(keys: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr]:
    doc = pl.col("response_json")
    value = pl.coalesce(*[doc.str.json_path_match(f"$.{key}") for key in keys])
    present = value.is_not_null()
    truthy = value.str.to_lowercase().is_in(_TRUE).fill_null(value=False)
    return present, truthy


def _doc_flags(reviews: pl.DataFrame) -> pl.DataFrame:
    """Fallback and guardrail flags of each distinct response_json that may hold one of their keys.

    Documents repeat, and parsing is the cost: each distinct one is parsed once. A document without any
    key's text (and no `\\u` escape that could spell one) cannot hold it, so it is not parsed at all."""
    fallback_present, fallback_true = _flag(FALLBACK_KEYS)
    guard_present, guard_true = _flag(GUARDRAIL_KEYS)
    doc = pl.col("response_json")
    return (
        reviews.select(doc)
        .filter(doc.str.contains_any([*FALLBACK_KEYS, *GUARDRAIL_KEYS, "\\u"]).fill_null(value=False))
        .unique()
        .select(
            doc,
            fallback_present.alias("_fb_present"),
            fallback_true.alias("_fb"),
            guard_present.alias("_gr_present"),
            guard_true.alias("_gr"),
        )
    )


def _counts(verdicts: pl.Series) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for value, count in verdicts.value_counts().iter_rows():
        counts[str(value)] = counts.get(str(value), 0) + int(count)
    return dict(sorted(counts.items()))


def _cost(tokens: int, price_per_1k: Decimal) -> Decimal:
    return (Decimal(tokens) * price_per_1k / 1000).normalize(WIDE) if tokens else Decimal(0)


def _mean(series: pl.Series) -> float | None:
    values = series.cast(pl.Float64).drop_nulls()
    return rounded(float(values.mean())) if len(values) else None  # type: ignore[arg-type]


def build_llm(
    reviews: pl.DataFrame,
    executions: pl.DataFrame,
    trades: pl.DataFrame,
    price_per_1k: Decimal,
) -> LlmResult:
    """LLM review behaviour of the run, joined to what happened to each reviewed decision."""
    executed = executions.group_by("trade_decision_id").agg(
        pl.len().alias("_executions"),
        (pl.col("filled_qty") > 0).fill_null(value=False).any().alias("_filled"),
    )
    realized = trades.group_by("trade_decision_id").agg(
        pl.col("realized_pnl").to_physical().sum().alias("_pnl")
    )
    data = (
        reviews.with_columns(
            pl.col("verdict").str.to_lowercase().str.strip_chars().fill_null("unknown").alias("verdict"),
            pl.col("model").fill_null("unknown"),
            pl.col("prompt_version").fill_null("unknown"),
            pl.col("confidence").cast(pl.Float64).alias("_confidence"),
        )
        .join(_doc_flags(reviews), on="response_json", how="left", maintain_order="left")
        .join(executed, on="trade_decision_id", how="left")
        .join(realized, on="trade_decision_id", how="left")
        .with_columns(
            pl.col("_executions").fill_null(0),
            pl.col("_filled").fill_null(value=False),
            pl.col("_pnl").fill_null(0),
            pl.col("_fb_present", "_fb", "_gr_present", "_gr").fill_null(value=False),
        )
    )
    total = data.height
    errors = int((data["verdict"] == "error").sum())
    judged = data.filter(pl.col("verdict").is_in(_GO + _STOP))
    agree = judged.filter(
        (pl.col("verdict").is_in(_GO) & pl.col("_filled"))
        | (pl.col("verdict").is_in(_STOP) & ~pl.col("_filled"))
    ).height
    agreement = rate(agree, judged.height)
    judged_confidence = _mean(judged["_confidence"])
    gap = (
        rounded(judged_confidence - agreement)
        if judged_confidence is not None and agreement is not None
        else None
    )
    tokens_prompt = int(data["tokens_prompt"].fill_null(0).sum())
    tokens_completion = int(data["tokens_completion"].fill_null(0).sum())
    fb_known = int(data["_fb_present"].sum())
    gr_known = int(data["_gr_present"].sum())

    groups: list[LlmGroup] = []
    for (model, prompt), group in sorted(
        data.group_by("model", "prompt_version"), key=lambda item: (str(item[0][0]), str(item[0][1]))
    ):
        group_errors = int((group["verdict"] == "error").sum())
        g_prompt = int(group["tokens_prompt"].fill_null(0).sum())
        g_completion = int(group["tokens_completion"].fill_null(0).sum())
        groups.append(
            LlmGroup(
                model=str(model),
                prompt_version=str(prompt),
                reviews=group.height,
                errors=group_errors,
                error_rate=rate(group_errors, group.height),
                verdict_counts=_counts(group["verdict"]),
                mean_confidence=_mean(group["_confidence"]),
                tokens_prompt=g_prompt,
                tokens_completion=g_completion,
                cost_proxy=_cost(g_prompt + g_completion, price_per_1k),
            )
        )
    outcomes = [
        VerdictOutcome(
            verdict=str(row["verdict"]),
            reviews=int(row["reviews"]),
            decisions_executed=int(row["executed"]),
            decisions_filled=int(row["filled"]),
            realized_pnl=scaled(int(row["pnl"]), MONEY_SCALE),
        )
        for row in data.group_by("verdict")
        .agg(
            pl.len().alias("reviews"),
            (pl.col("_executions") > 0).sum().alias("executed"),
            pl.col("_filled").sum().alias("filled"),
            pl.col("_pnl").sum().alias("pnl"),
        )
        .sort("verdict")
        .iter_rows(named=True)
    ]
    section = Llm(
        reviews=total,
        errors=errors,
        error_rate=rate(errors, total),
        verdict_counts=_counts(data["verdict"]) if total else dict.fromkeys(sorted(VERDICTS), 0),
        mean_confidence=_mean(data["_confidence"]),
        outcome_agreement_rate=agreement,
        calibration_gap=gap,
        fallback_rate=rate(int(data["_fb"].sum()), fb_known) if fb_known else None,
        guardrail_rate=rate(int(data["_gr"].sum()), gr_known) if gr_known else None,
        tokens_prompt=tokens_prompt,
        tokens_completion=tokens_completion,
        cost_proxy=_cost(tokens_prompt + tokens_completion, price_per_1k),
        by_model_prompt=groups,
        verdict_outcomes=outcomes,
    )
    return LlmResult(section=section, summary=summary_table(groups))


def summary_table(groups: list[LlmGroup]) -> pl.DataFrame:
    """The per model × prompt version table of `llm-review-summary.csv`."""
    verdicts = sorted({v for g in groups for v in g.verdict_counts} | set(VERDICTS))
    schema: dict[str, pl.DataType] = {
        "model": pl.String(),
        "prompt_version": pl.String(),
        "reviews": pl.Int64(),
        "errors": pl.Int64(),
        "error_rate": pl.Float64(),
        "mean_confidence": pl.Float64(),
        "tokens_prompt": pl.Int64(),
        "tokens_completion": pl.Int64(),
        "cost_proxy": pl.String(),
        **{f"verdict_{v}": pl.Int64() for v in verdicts},
    }
    rows = [
        {
            "model": g.model,
            "prompt_version": g.prompt_version,
            "reviews": g.reviews,
            "errors": g.errors,
            "error_rate": g.error_rate,
            "mean_confidence": g.mean_confidence,
            "tokens_prompt": g.tokens_prompt,
            "tokens_completion": g.tokens_completion,
            "cost_proxy": format_decimal(g.cost_proxy),
            **{f"verdict_{v}": g.verdict_counts.get(v, 0) for v in verdicts},
        }
        for g in groups
    ]
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
