"""LLM fallback/guardrail flags parsed once per distinct response document, escapes and repeats included."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from torghut_sim.report.llm import _doc_flags
from unit.report_builders import RunBuilder
from unit.test_report_sections import _report


def test_flags_of_distinct_documents() -> None:
    docs = [
        '{"fallback": true}',
        '{"fallback": true}',
        '{"fall\\u0062ack": "yes"}',  # the key spelled with an escape still counts
        '{"note": "no flag here"}',  # no key text: never parsed, no flag
        '{"guardrail": false, "fallback_used": "1"}',
        None,
    ]
    flags = _doc_flags(pl.DataFrame({"response_json": docs})).sort("response_json")
    assert flags.rows() == [
        ('{"fall\\u0062ack": "yes"}', True, True, False, False),
        ('{"fallback": true}', True, True, False, False),
        ('{"guardrail": false, "fallback_used": "1"}', True, True, True, False),
    ]


def test_rates_count_repeated_and_unflagged_documents(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    d = builder.decision()
    for response in (
        {"fallback": True},
        {"fallback": True},
        {"fallback": False, "guardrail_triggered": "TRUE"},
        {"other": 1},
        None,
    ):
        builder.review(d, "approve", response=response)
    llm = _report(builder).llm
    # Fallback known on 3 of 5 reviews, true on 2; guardrail known on 1, true on 1.
    assert (llm.fallback_rate, llm.guardrail_rate) == (round(2 / 3, 6), 1.0)
