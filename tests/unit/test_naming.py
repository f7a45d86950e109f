"""Deterministic names of a run: ids, run token, databases, topics, groups, Kubernetes names."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_sim.naming import (
    NamingError,
    dataset_id_for,
    k8s_name,
    names_for_day,
    names_for_run_id,
    run_id_for,
    run_token_for,
)
from torghut_sim.topics import TOPIC_ROLES

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_names_of_a_day() -> None:
    names = names_for_day(date(2026, 3, 6), 1)
    assert names.run_id == "sim-20260306-01"
    assert names.dataset_id == "torghut-trades-20260306"
    assert names.run_token == "sim_20260306_01"
    assert names.simulation_database == "torghut_sim_sim_20260306_01"
    assert names.ta_group_id == "torghut-ta-sim-sim_20260306_01"
    assert names.order_feed_group_id == "torghut-order-feed-sim-sim_20260306_01"
    assert names.k8s_run_name == "torghut-sim-sim-20260306-01"
    assert names.topic("trades") == "torghut.sim.trades.v1.sim_20260306_01"
    assert names.topic("order_updates") == "torghut.sim.trade-updates.v1.sim_20260306_01"
    assert set(names.topics_by_role) == {r.role for r in TOPIC_ROLES}


@pytest.mark.parametrize(("sequence", "run_id"), [(1, "sim-20261127-01"), (12, "sim-20261127-12")])
def test_run_id_sequence(sequence: int, run_id: str) -> None:
    assert run_id_for(date(2026, 11, 27), sequence) == run_id
    assert dataset_id_for(date(2026, 11, 27)) == "torghut-trades-20261127"


@pytest.mark.parametrize("sequence", [0, -1, 100])
def test_bad_sequence_is_refused(sequence: int) -> None:
    with pytest.raises(NamingError) as err:
        run_id_for(date(2026, 3, 6), sequence)
    assert err.value.reason == "invalid_sequence"


@pytest.mark.parametrize(
    ("run_id", "token"),
    [
        ("sim-20260306-01", "sim_20260306_01"),
        ("sim-2026-03-02-full-day-01", "sim_2026_03_02_full_day_01"),
        ("--SIM..2026__03--", "sim_2026_03"),
        ("a", "a"),
        ("Sim 2026/03 #1", "sim_2026_03_1"),
        ("día-1", "d_a_1"),
    ],
)
def test_run_token(run_id: str, token: str) -> None:
    assert run_token_for(run_id) == token


@pytest.mark.parametrize("run_id", ["", "---", "__", " ", "é…"])
def test_empty_run_token_is_refused(run_id: str) -> None:
    with pytest.raises(NamingError) as err:
        run_token_for(run_id)
    assert err.value.reason == "empty_run_token"


@given(st.text(max_size=80))
def test_run_token_shape(run_id: str) -> None:
    try:
        token = run_token_for(run_id)
    except NamingError:
        assert not re.search(r"[a-z0-9]", run_id.lower())
        return
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", token)


def test_long_k8s_names_are_truncated_with_a_stable_hash() -> None:
    a = k8s_name("torghut-sim-" + "x" * 80 + "-a")
    b = k8s_name("torghut-sim-" + "x" * 80 + "-b")
    assert len(a) == len(b) == 63
    assert a != b
    assert a == k8s_name("torghut-sim-" + "x" * 80 + "-a")
    assert DNS_LABEL.match(a)


def test_short_k8s_names_are_kept() -> None:
    assert k8s_name("Torghut_Sim__sim_20260306_01") == "torghut-sim-sim-20260306-01"


def test_empty_k8s_name_is_refused() -> None:
    with pytest.raises(NamingError) as err:
        k8s_name("__")
    assert err.value.reason == "empty_k8s_name"


@given(st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=200))
def test_k8s_names_are_dns_labels(value: str) -> None:
    try:
        name = k8s_name(value)
    except NamingError:
        return
    assert len(name) <= 63
    assert DNS_LABEL.match(name)


@given(st.from_regex(r"[a-z][a-z0-9-]{0,90}", fullmatch=True))
def test_run_names_are_consistent(run_id: str) -> None:
    names = names_for_run_id(run_id, "torghut-trades-x")
    assert names.simulation_database == f"torghut_sim_{names.run_token}"
    assert all(
        t.startswith("torghut.sim.") and t.endswith(f".{names.run_token}")
        for t in names.topics_by_role.values()
    )
    assert len(names.k8s_run_name) <= 63
