"""The Prometheus text parser, the scrape deltas, the URL discovery and the reference runtime's rendering."""

from __future__ import annotations

from typing import Any

import pytest

from torghut_sim.devstack.refruntime.metrics import FAMILIES, RuntimeMetrics, UnknownMetricError
from torghut_sim.runtime_metrics.deltas import compute_deltas
from torghut_sim.runtime_metrics.discovery import (
    METRICS_URL_ANNOTATION,
    MetricsUrlError,
    knative_url_resolver,
    redact_url,
    resolve_metrics_url,
)
from torghut_sim.runtime_metrics.prometheus import MetricsTextError, parse_metrics

TEXT = """# HELP torghut_trading_decisions_total Trade decisions written.
# TYPE torghut_trading_decisions_total counter
torghut_trading_decisions_total 12
# HELP torghut_trading_decision_reject_reason_total Atomic reject reasons.
# TYPE torghut_trading_decision_reject_reason_total counter
torghut_trading_decision_reject_reason_total{reason="signal_lag_exceeded:312"} 2 1712345678000
torghut_trading_decision_reject_reason_total{reason="quote \\"odd\\" \\\\ back\\nline"} 1.5e0
# HELP torghut_trading_submission_block_total Atomic submission block reasons.
# TYPE torghut_trading_submission_block_total counter
# TYPE torghut_trading_no_signal_streak gauge
torghut_trading_no_signal_streak -3
torghut_trading_execution_fallback_total{to="alpaca",from="simulation",} 4
"""


def test_parser_reads_types_help_labels_escapes_and_timestamps() -> None:
    scrape = parse_metrics(TEXT)
    assert scrape.families["torghut_trading_decisions_total"].type == "counter"
    assert scrape.families["torghut_trading_decisions_total"].help == "Trade decisions written."
    assert scrape.value("torghut_trading_decisions_total") == 12
    rejects = scrape.families["torghut_trading_decision_reject_reason_total"].samples
    assert rejects == {
        (("reason", "signal_lag_exceeded:312"),): 2.0,
        (("reason", 'quote "odd" \\ back\nline'),): 1.5,
    }
    # A declared family without samples is known and empty.
    assert scrape.families["torghut_trading_submission_block_total"].samples == {}
    assert scrape.families["torghut_trading_no_signal_streak"].type == "gauge"
    assert scrape.value("torghut_trading_no_signal_streak") == -3
    # Label order and a trailing comma do not matter; absent families and label sets read as 0.
    assert (
        scrape.value("torghut_trading_execution_fallback_total", **{"from": "simulation", "to": "alpaca"})
        == 4
    )
    assert scrape.value("torghut_trading_llm_requests_total") == 0
    assert scrape.value("torghut_trading_decision_reject_reason_total", reason="other") == 0


@pytest.mark.parametrize(
    "text",
    [
        'metric{reason="x} 1\n',
        "metric{reason=x} 1\n",
        "metric one\n",
        "metric NaN\n",
        "# TYPE metric histogramm\n",
        "metric 1\nmetric 2\n",
        '{reason="x"} 1\n',
    ],
)
def test_parser_refuses_malformed_text_with_a_reason(text: str) -> None:
    with pytest.raises(MetricsTextError) as info:
        parse_metrics(text)
    assert info.value.reason == "metrics_text_invalid"
    assert "line " in str(info.value)


def test_deltas_are_never_negative_and_flag_a_restart() -> None:
    before = parse_metrics(
        "# TYPE a_total counter\na_total 10\n"
        '# TYPE r_total counter\nr_total{reason="x"} 5\nr_total{reason="gone"} 2\n'
        "# TYPE g gauge\ng 4\n"
    )
    after = parse_metrics(
        '# TYPE a_total counter\na_total 3\n# TYPE r_total counter\nr_total{reason="x"} 9\n'
        'r_total{reason="new:1"} 1\n# TYPE g gauge\ng 1\n# TYPE late_total counter\nlate_total 7\n'
    )
    deltas = compute_deltas(before, after)
    doc = deltas.as_json()
    families = doc["families"]
    # 10 → 3: the process restarted; what it counted since is 3, not -7.
    assert families["a_total"]["samples"] == [
        {"labels": {}, "before": 10.0, "after": 3.0, "delta": 3.0, "reset": True}
    ]
    by_reason = {s["labels"]["reason"]: (s["delta"], s["reset"]) for s in families["r_total"]["samples"]}
    # "gone" went 2 → absent (0): also a restart, delta 0; "new:1" absent before counts from 0.
    assert by_reason == {"gone": (0.0, True), "new:1": (1.0, False), "x": (4.0, False)}
    # A gauge reports where it went, even downwards, and is never a restart.
    assert families["g"]["samples"][0]["after"] == 1.0
    assert families["g"]["samples"][0]["reset"] is False
    assert families["late_total"]["samples"][0]["delta"] == 7.0
    assert doc["process_restarted"] is True
    assert doc["restarted_samples"] == ["a_total", 'r_total{reason="gone"}']


def test_reference_runtime_renders_every_family_and_round_trips() -> None:
    metrics = RuntimeMetrics()
    metrics.inc("torghut_trading_decisions_total", 3)
    metrics.inc("torghut_trading_decision_reject_reason_total", reason='llm_veto "quoted"')
    metrics.set("torghut_trading_no_signal_streak", 2)
    text = metrics.render()
    scrape = parse_metrics(text)
    for name, (kind, _labels, _help) in FAMILIES.items():
        assert f"# HELP {name} " in text
        assert scrape.families[name].type == kind
    assert scrape.value("torghut_process_role_info", role="simulation") == 1
    assert scrape.value("torghut_trading_decisions_total") == 3
    assert scrape.value("torghut_trading_decision_reject_reason_total", reason='llm_veto "quoted"') == 1
    assert scrape.value("torghut_trading_no_signal_streak") == 2
    # Unlabelled counters show 0 before anything happened; labelled ones are present but empty.
    assert scrape.families["torghut_trading_orders_submitted_total"].samples == {(): 0.0}
    assert scrape.families["torghut_trading_submission_block_total"].samples == {}
    with pytest.raises(UnknownMetricError):
        metrics.inc("torghut_trading_decision_reject_reason_total", status="x")
    with pytest.raises(ValueError, match="only grow"):
        metrics.inc("torghut_trading_decisions_total", -1)


def test_metrics_url_comes_from_the_manifest_then_the_service_status() -> None:
    service = {"status": {"annotations": {METRICS_URL_ANNOTATION: "http://127.0.0.1:40001/metrics"}}}
    assert resolve_metrics_url(None, service) == ("http://127.0.0.1:40001/metrics", "service_status")
    assert resolve_metrics_url("http://127.0.0.1:9/metrics", service) == (
        "http://127.0.0.1:9/metrics",
        "manifest",
    )
    assert resolve_metrics_url(None, {"status": {"url": "http://torghut-sim.torghut.svc"}}) is None
    assert resolve_metrics_url(None, None) is None
    with pytest.raises(MetricsUrlError) as info:
        resolve_metrics_url("file:///etc/passwd", None)
    assert info.value.reason == "metrics_url_invalid"
    assert redact_url("http://user:secret@127.0.0.1:5/metrics") == "http://***@127.0.0.1:5/metrics"


class _FakeKube:
    """Answers `get` with one Service and records what was asked."""

    def __init__(self, service: dict[str, Any] | None) -> None:
        self.service = service
        self.asked: list[Any] = []

    def get(self, ref: Any) -> dict[str, Any] | None:
        self.asked.append(ref)
        return self.service


def test_the_knative_resolver_reads_the_live_service_only_without_a_configured_url() -> None:
    service = {"status": {"annotations": {METRICS_URL_ANNOTATION: "http://127.0.0.1:40002/metrics"}}}
    kube = _FakeKube(service)
    resolve = knative_url_resolver(kube, "torghut", "torghut-sim", None)  # type: ignore[arg-type]
    assert resolve() == ("http://127.0.0.1:40002/metrics", "service_status")
    assert [(r.resource.plural, r.namespace, r.name) for r in kube.asked] == [
        ("services", "torghut", "torghut-sim")
    ]
    configured = _FakeKube(service)
    resolve = knative_url_resolver(configured, "torghut", "torghut-sim", "http://127.0.0.1:9/m")  # type: ignore[arg-type]
    assert resolve() == ("http://127.0.0.1:9/m", "manifest")
    assert configured.asked == []
