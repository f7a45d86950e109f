"""The production Postgres database the contamination check watches: configured, derived, or the default."""

from __future__ import annotations

from torghut_sim.stores.production_postgres import resolve_watched, runtime_database


def _env(dsn: str) -> list[dict[str, object]]:
    return [{"name": "TRADING_MODE", "value": "paper"}, {"name": "DB_DSN", "value": dsn}]


def test_the_configured_database_wins() -> None:
    watched = resolve_watched("torghut_live", _env("postgresql://u:p@db:5432/torghut_other"))
    assert (watched.name, watched.source) == ("torghut_live", "configured")


def test_the_runtime_dsn_before_the_patch_names_the_database() -> None:
    watched = resolve_watched(None, _env("postgresql://u:secret@db:5432/torghut_prod?sslmode=require"))
    assert watched.as_dict() == {"database": "torghut_prod", "source": "runtime_env"}


def test_simulation_and_pod_resolved_dsns_fall_back_to_the_contract_database() -> None:
    # The upstream runtime's idle DSN is a simulation database built from `$(VAR)` references.
    upstream = "postgresql://$(USER):$(PASSWORD)@$(HOST):$(PORT)/torghut_sim_default"
    for env in (_env(upstream), _env("postgresql://u@db/torghut_sim_sim_20260306_01"), [], None):
        watched = resolve_watched(None, env)
        assert (watched.name, watched.source) == ("torghut", "contract_default")


def test_a_dsn_from_a_secret_reference_is_not_readable() -> None:
    env = [{"name": "DB_DSN", "valueFrom": {"secretKeyRef": {"name": "db", "key": "dsn"}}}]
    assert runtime_database(env) is None
    assert runtime_database(_env("postgresql://u@db/")) is None
