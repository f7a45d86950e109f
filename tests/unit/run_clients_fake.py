"""A run-clients resource for unit tests: secrets from a fixed fake environment, not the real one."""

from __future__ import annotations

from collections.abc import Mapping

from resources import RunClientsResource

FAKE_SECRETS: dict[str, str] = {
    "TORGHUT_DEVSTACK_POSTGRES_PASSWORD": "fake-postgres",
    "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD": "fake-clickhouse",
    "TORGHUT_POSTGRES_PASSWORD": "fake-app",
    "TORGHUT_POSTGRES_ADMIN_PASSWORD": "fake-admin",
    "TORGHUT_CLICKHOUSE_PASSWORD": "fake-clickhouse",
    "TORGHUT_SIM_KAFKA_PASSWORD": "fake-kafka",
}


class FakeEnvRunClients(RunClientsResource):
    """Resolves a run's clients from `FAKE_SECRETS`, swapped in through the Dagster resources."""

    def _environ(self) -> Mapping[str, str]:
        return FAKE_SECRETS
