"""Reserving the stack's ports: parsing and rendering the kernel setting, and adding to it."""

from __future__ import annotations

from pathlib import Path

from torghut_sim.devstack.config import Ports, StackConfig
from torghut_sim.devstack.ports import parse_reserved, render_reserved, reserve_ports, stack_ports


def test_parse_and_render_round_trip_runs() -> None:
    assert parse_reserved("55432,59092-59094\n") == {55432, 59092, 59093, 59094}
    assert parse_reserved("\n") == set()
    assert render_reserved({59094, 55432, 59092, 59093, 1}) == "1,55432,59092-59094"
    assert render_reserved([]) == ""


def test_reserve_adds_to_what_is_there(tmp_path: Path) -> None:
    setting = tmp_path / "ip_local_reserved_ports"
    setting.write_text("8000-8001\n")
    assert reserve_ports({8001, 59092, 59093}, setting)
    assert setting.read_text() == "8000-8001,59092-59093\n"


def test_reserve_is_best_effort_where_the_setting_cannot_be_written(tmp_path: Path) -> None:
    assert not reserve_ports({59092}, tmp_path / "missing" / "ip_local_reserved_ports")


def test_stack_ports_are_every_configured_port() -> None:
    config = StackConfig(
        ports=Ports(
            postgres=1,
            kafka=2,
            kafka_controller=3,
            clickhouse=4,
            etcd_client=5,
            etcd_peer=6,
            kube_apiserver=7,
        )
    )
    # The node's servers sit just above the API server's port.
    assert stack_ports(config) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
