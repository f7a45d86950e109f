"""The watched production Postgres database must exist on the real server, else the run is refused."""

from __future__ import annotations

import pytest

from torghut_sim.devstack.postgres import PostgresService
from torghut_sim.stores.production_postgres import (
    ProductionPostgresUnknownError,
    WatchedDatabase,
    require_exists,
)


def test_a_watched_database_missing_from_the_server_is_refused_with_its_reason(
    postgres_service: PostgresService,
) -> None:
    admin = postgres_service.dsn()
    require_exists(admin, WatchedDatabase("postgres", "configured"))
    with pytest.raises(ProductionPostgresUnknownError) as caught:
        require_exists(admin, WatchedDatabase("torghut_typo", "configured"))
    assert caught.value.reason == "production_postgres_unknown"
    message = str(caught.value)
    assert "torghut_typo" in message and "TORGHUT_SIM_PRODUCTION_POSTGRES_DATABASE" in message
    assert "devstack" not in message  # the admin DSN's password never appears


def test_an_unreachable_server_is_refused_with_the_same_reason() -> None:
    with pytest.raises(ProductionPostgresUnknownError) as caught:
        require_exists("postgresql://postgres:secret@127.0.0.1:1/postgres", WatchedDatabase("torghut", "x"))
    assert caught.value.reason == "production_postgres_unknown" and "secret" not in str(caught.value)
