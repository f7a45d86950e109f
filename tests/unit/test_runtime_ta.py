"""TA ConfigMap values and the FlinkDeployment health rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.inputs import InvalidRuntimeInputError
from torghut_sim.runtime.model import ObjectCapture
from torghut_sim.runtime.ta import (
    RESTART_NONCE,
    TA_KEYS,
    clickhouse_jdbc_url,
    flink_readiness,
    restarted_nonce,
    ta_config_values,
)


def test_ta_values_point_at_run_topics_group_and_database() -> None:
    values = ta_config_values("sim_20260306_01", "http://127.0.0.1:58123", "torghut_sim_sim_20260306_01")
    assert set(values) == set(TA_KEYS)
    assert values["TA_TRADES_TOPIC"] == "torghut.sim.trades.v1.sim_20260306_01"
    assert values["TA_BARS1M_TOPIC"] == "torghut.sim.bars.1m.v1.sim_20260306_01"
    assert values["TA_MICROBARS_TOPIC"] == "torghut.sim.ta.bars.1s.v1.sim_20260306_01"
    assert values["TA_STATUS_TOPIC"] == "torghut.sim.ta.status.v1.sim_20260306_01"
    assert values["TA_GROUP_ID"] == "torghut-ta-sim-sim_20260306_01"
    assert values["TA_AUTO_OFFSET_RESET"] == "earliest"
    assert values["TA_CLICKHOUSE_URL"] == "jdbc:clickhouse://127.0.0.1:58123/torghut_sim_sim_20260306_01"


def test_clickhouse_url_defaults_the_port_and_refuses_hostless_urls() -> None:
    assert clickhouse_jdbc_url("http://ch.local", "db") == "jdbc:clickhouse://ch.local:8123/db"
    with pytest.raises(InvalidRuntimeInputError):
        clickhouse_jdbc_url("not a url", "db")
    with pytest.raises(InvalidRuntimeInputError):
        ta_config_values("t", "http://ch:8123", "db", auto_offset_reset="sometimes")


def test_restart_nonce_is_captured_plus_one() -> None:
    def capture(nonce: Captured) -> ObjectCapture:
        return ObjectCapture(
            role="flink_deployment",
            namespace="torghut",
            name="ta",
            exists=True,
            fields={RESTART_NONCE: nonce},
        )

    assert restarted_nonce(capture(Captured.of(40))) == 41
    assert restarted_nonce(capture(Captured.absent())) == 1


def _flink(nonce: int, generation: int, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "spec": {"restartNonce": nonce}, "status": status}


def test_flink_is_healthy_only_when_running_the_restarted_spec() -> None:
    running = {"jobStatus": {"state": "RUNNING"}}
    assert flink_readiness(_flink(41, 5, observedGeneration=5, **running), 41).ready
    # A RUNNING status left from before the restart must not count.
    assert not flink_readiness(_flink(41, 5, observedGeneration=4, **running), 41).ready
    assert not flink_readiness(_flink(41, 5, **running), 41).ready
    assert not flink_readiness(_flink(40, 5, observedGeneration=5, **running), 41).ready
    assert not flink_readiness(
        _flink(41, 5, observedGeneration=5, jobStatus={"state": "RECONCILING"}), 41
    ).ready
    reconciled = {"lastReconciledSpec": json.dumps({"restartNonce": 41, "job": {"state": "running"}})}
    assert flink_readiness(_flink(41, 5, reconciliationStatus=reconciled, **running), 41).ready
    assert not flink_readiness(None, 41).ready
