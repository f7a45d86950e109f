"""Secrets come only from named environment variables; DSNs are redacted wherever they are shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_sim.manifest import load_manifest
from torghut_sim.run_clients import resolve_secrets
from torghut_sim.secrets import (
    DsnError,
    MissingSecretError,
    Secret,
    dsn_database,
    dsn_has_password,
    dsn_with_database,
    dsn_with_password,
    redact_dsn,
    redact_text,
    secret_from_env,
)

MANIFESTS = Path(__file__).resolve().parents[2].parent / "shared" / "upstream-fixtures" / "manifests"
FULL_DAY_ENV = {
    "TORGHUT_SIM_KAFKA_PASSWORD": "kafka-pw",
    "TORGHUT_CLICKHOUSE_PASSWORD": "ch-pw",
    "TORGHUT_POSTGRES_ADMIN_PASSWORD": "admin p@ss/word",
    "TORGHUT_POSTGRES_PASSWORD": "app-pw",
}


def test_secret_from_env() -> None:
    secret = secret_from_env("X_PW", {"X_PW": "s3cret"})
    assert secret.reveal() == "s3cret"
    assert secret.source == "X_PW"


def test_missing_secret_names_the_variable() -> None:
    with pytest.raises(MissingSecretError) as err:
        secret_from_env("TORGHUT_SIM_KAFKA_PASSWORD", {})
    assert err.value.reason == "missing_secret"
    assert "TORGHUT_SIM_KAFKA_PASSWORD" in str(err.value)
    assert "not set" in err.value.message


def test_empty_secret_is_missing_unless_allowed() -> None:
    with pytest.raises(MissingSecretError) as err:
        secret_from_env("PW", {"PW": ""})
    assert "empty" in err.value.message
    assert secret_from_env("PW", {"PW": ""}, allow_empty=True).reveal() == ""


def test_secret_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORGHUT_TEST_SECRET", "from-os")
    assert secret_from_env("TORGHUT_TEST_SECRET").reveal() == "from-os"


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2", source="PW")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr({"k": secret})):
        assert "hunter2" not in shown
    assert "***" in repr(secret)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://torghut:hunter2@db:5432/postgres", "postgresql://torghut:***@db:5432/postgres"),
        ("postgresql://torghut@db:5432/postgres", "postgresql://torghut@db:5432/postgres"),
        ("postgresql://u:p%40ss%2Fw@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"),
        ("postgresql://u:@db/x", "postgresql://u:***@db/x"),
        ("host=db user=u password=hunter2 dbname=x", "host=db user=u password=*** dbname=x"),
        (
            "postgresql://u@db/x?password=hunter2&sslmode=disable",
            "postgresql://u@db/x?password=***&sslmode=disable",
        ),
        ("http://default:hunter2@127.0.0.1:58123", "http://default:***@127.0.0.1:58123"),
    ],
)
def test_redact_dsn(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown


def test_redact_text_finds_dsns_in_messages() -> None:
    text = "connect to postgresql://a:one@h1/x failed; retry postgresql://b:two@h2/y"
    assert redact_text(text) == "connect to postgresql://a:***@h1/x failed; retry postgresql://b:***@h2/y"


def test_dsn_helpers() -> None:
    assert dsn_has_password("postgresql://u:p@h/d")
    assert not dsn_has_password("postgresql://u@h/d")
    assert dsn_database("postgresql://u@h:5432/torghut_sim_x") == "torghut_sim_x"
    assert (
        dsn_with_database("postgresql://u@h:5432/a?sslmode=require", "b")
        == "postgresql://u@h:5432/b?sslmode=require"
    )
    with pytest.raises(DsnError):
        dsn_database("postgresql://u@h:5432/")


def test_dsn_with_password_encodes_and_stays_secret() -> None:
    full = dsn_with_password("postgresql://u@h:5432/d", Secret("p@ss/w:rd"))
    assert full.reveal() == "postgresql://u:p%40ss%2Fw%3Ard@h:5432/d"
    assert "p%40ss" not in repr(full)
    assert redact_dsn(full.reveal()) == "postgresql://u:***@h:5432/d"


def test_resolve_secrets_of_the_full_day_manifest() -> None:
    manifest = load_manifest(MANIFESTS / "full-day-2026-03-06.yaml")
    resolved = resolve_secrets(manifest, "torghut_sim_x", FULL_DAY_ENV)
    assert resolved.kafka_sasl_password is not None
    assert resolved.kafka_sasl_password.reveal() == "kafka-pw"
    assert resolved.clickhouse_password is not None
    assert resolved.clickhouse_password.reveal() == "ch-pw"
    assert resolved.postgres_admin_dsn.reveal().startswith("postgresql://postgres:admin%20p%40ss%2Fword@")
    # A fixed simulation DSN keeps its own database.
    assert resolved.postgres_simulation_dsn.reveal().endswith("/torghut_sim_sim_2026_03_06_full_day")
    assert "app-pw" in resolved.postgres_runtime_simulation_dsn.reveal()
    assert "app-pw" not in repr(resolved)


def test_resolve_secrets_fills_the_template_database() -> None:
    manifest = load_manifest(MANIFESTS / "example-dataset.yaml")
    resolved = resolve_secrets(manifest, "torghut_sim_sim_20260227_01", FULL_DAY_ENV)
    assert resolved.postgres_simulation_dsn.reveal().endswith("/torghut_sim_sim_20260227_01")


@pytest.mark.parametrize("missing", sorted(FULL_DAY_ENV))
def test_resolve_secrets_names_each_missing_variable(missing: str) -> None:
    manifest = load_manifest(MANIFESTS / "full-day-2026-03-06.yaml")
    env = {k: v for k, v in FULL_DAY_ENV.items() if k != missing}
    with pytest.raises(MissingSecretError) as err:
        resolve_secrets(manifest, "torghut_sim_x", env)
    assert missing in err.value.message
