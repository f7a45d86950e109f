"""The plan of a run (or a range of runs): windows, names, redacted connections, runtime env, guards.

A plan is computed without any side effect or secret value and is deterministic for the same inputs
and environment; `write_day_plan` stores `manifest.yaml` and `plan.json` in the run directory.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from torghut_sim.calendar import CalendarError, SessionWindow, nominal_session_window
from torghut_sim.day_selection import BatchPlan
from torghut_sim.day_template import day_run_paths, render_day_manifest, write_day_manifest
from torghut_sim.errors import TorghutSimError
from torghut_sim.guards import GuardResult, GuardsRefusedError, run_guards
from torghut_sim.guards.runtime import ALLOWED_ENV_OVERRIDES
from torghut_sim.manifest import DatasetManifest
from torghut_sim.naming import RunNames, names_for_day
from torghut_sim.runtime.knative import SimulationEnvInputs, simulation_env
from torghut_sim.secrets import MissingSecretError, Secret, dsn_with_password, redact_dsn
from torghut_sim.topics import DUMPED_ROLES

PLAN_SCHEMA = "torghut-sim.plan.v1"
BATCH_PLAN_SCHEMA = "torghut-sim.plan-batch.v1"


def _iso(value: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with a trailing Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def display_dsn(dsn: str, password_env: str | None) -> str:
    """A DSN as shown to people: `user:***@host` when a password will be attached, never the value."""
    if password_env is None:
        return redact_dsn(dsn)
    return redact_dsn(dsn_with_password(dsn, Secret("redacted")).reveal())


def runtime_env(manifest: DatasetManifest, names: RunNames, db_dsn: str) -> dict[str, str]:
    """The env a simulation sets on the runtime (CONTRACTS §7), as runtime control will apply it."""
    window = manifest.window
    # Keys outside the allow-list are left out here so the plan can still be shown; the
    # `env_overrides` guard reports them and refuses the run.
    overrides = {k: v for k, v in manifest.torghut_env_overrides.items() if k in ALLOWED_ENV_OVERRIDES}
    return simulation_env(
        SimulationEnvInputs(
            run_id=names.run_id,
            run_token=names.run_token,
            dataset_id=manifest.dataset_id,
            db_dsn=db_dsn,
            simulation_database=manifest.clickhouse.simulation_database or names.simulation_database,
            window_start=_iso(window.start),
            window_end=_iso(window.end),
            overrides=overrides,
        )
    )


def _secret_envs(manifest: DatasetManifest) -> list[str]:
    """Every environment variable the manifest names for a secret, sorted, once each."""
    k, c, p = manifest.kafka, manifest.clickhouse, manifest.postgres
    named = [
        k.sasl_password_env,
        k.runtime_sasl_password_env,
        c.password_env,
        p.admin_dsn_env,
        p.admin_dsn_password_env,
        p.simulation_dsn_password_env,
        p.runtime_simulation_dsn_password_env,
    ]
    return sorted({n for n in named if n})


def connection_summary(manifest: DatasetManifest, postgres_database: str) -> dict[str, Any]:
    """Where the run connects, with every DSN redacted and secrets named by variable only."""
    k, c, p = manifest.kafka, manifest.clickhouse, manifest.postgres
    admin = (
        f"${{{p.admin_dsn_env}}}"
        if p.admin_dsn_env
        else display_dsn(p.admin_dsn or "", p.admin_dsn_password_env)
    )
    return {
        "kafka": {
            "bootstrap_servers": k.bootstrap_servers,
            "security_protocol": k.security_protocol,
            "sasl_mechanism": k.sasl_mechanism,
            "sasl_username": k.sasl_username,
            "sasl_password_env": k.sasl_password_env,
        },
        "runtime_kafka": {
            "bootstrap_servers": k.runtime_bootstrap_servers,
            "security_protocol": k.runtime_security_protocol,
            "sasl_mechanism": k.runtime_sasl_mechanism,
            "sasl_username": k.runtime_sasl_username,
            "sasl_password_env": k.runtime_sasl_password_env,
        },
        "clickhouse": {
            "http_url": redact_dsn(c.http_url),
            "username": c.username,
            "password_env": c.password_env,
        },
        "postgres": {
            "admin_dsn": admin,
            "simulation_dsn": display_dsn(
                p.simulation_dsn_for(postgres_database), p.simulation_dsn_password_env
            ),
            "runtime_simulation_dsn": display_dsn(
                p.runtime_simulation_dsn_for(postgres_database), p.runtime_simulation_dsn_password_env
            ),
            "migrations_command": p.migrations_command,
        },
    }


@dataclass(frozen=True)
class DayPlan:
    """The plan of one run: its manifest, names, guard results and JSON view."""

    manifest: DatasetManifest
    names: RunNames
    guards: tuple[GuardResult, ...]
    data: dict[str, Any]
    # Secret variables the manifest names that are not set: such a plan cannot run.
    missing_secrets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every guard passed and every secret the run needs is set."""
        return all(g.ok for g in self.guards) and not self.missing_secrets

    def refusal(self) -> TorghutSimError | None:
        """Why the plan cannot run (the first failed guard, else the missing secrets), or None."""
        if not all(g.ok for g in self.guards):
            return GuardsRefusedError(list(self.guards))
        if self.missing_secrets:
            return MissingSecretError(
                f"environment variables {', '.join(self.missing_secrets)} are not set; the run needs them"
            )
        return None


def _calendar_view(manifest: DatasetManifest) -> dict[str, Any] | None:
    """The calendar facts of the manifest's trading day, None when outside the calendar."""
    if manifest.window.trading_day is None:
        return None
    try:
        session = nominal_session_window(manifest.window.trading_day)
    except CalendarError:
        return None
    return {
        "is_trading_day": session.is_trading_day,
        "early_close": session.early_close,
        "session_start": _iso(session.session_start),
        "session_end": _iso(session.session_end),
        "session_minutes": session.session_minutes,
    }


def build_day_plan(
    manifest: DatasetManifest,
    names: RunNames,
    allow_non_trading_day: bool = False,
    environ: Mapping[str, str] | None = None,
) -> DayPlan:
    """Plan one run of a manifest: nothing is written and no secret is read."""
    env_source = os.environ if environ is None else environ
    window = manifest.window
    postgres_db = manifest.postgres.simulation_database(names.simulation_database)
    pg = manifest.postgres
    db_dsn = display_dsn(pg.runtime_simulation_dsn_for(postgres_db), pg.runtime_simulation_dsn_password_env)
    env = runtime_env(manifest, names, db_dsn)
    guards = tuple(run_guards(manifest, names, env, postgres_db, allow_non_trading_day))
    paths = day_run_paths(manifest, names)
    secrets = [{"env": name, "set": bool(env_source.get(name))} for name in _secret_envs(manifest)]
    missing = tuple(str(item["env"]) for item in secrets if not item["set"])
    data: dict[str, Any] = {
        "schema_version": PLAN_SCHEMA,
        "ok": all(g.ok for g in guards) and not missing,
        "run_id": names.run_id,
        "run_token": names.run_token,
        "dataset_id": manifest.dataset_id,
        "trading_day": window.trading_day.isoformat() if window.trading_day else None,
        "calendar": _calendar_view(manifest),
        "window": {
            "profile": window.profile,
            "timezone": window.timezone,
            "start": _iso(window.start),
            "end": _iso(window.end),
            "dump_start": _iso(window.dump_start),
            "dump_end": _iso(window.dump_end),
            "pre_buffer_minutes": window.pre_buffer_minutes,
            "post_buffer_minutes": window.post_buffer_minutes,
            "min_coverage_minutes": window.min_coverage_minutes,
            "strict_coverage_ratio": window.strict_coverage_ratio,
        },
        "names": {
            **names.as_dict(),
            "clickhouse_database": manifest.clickhouse.simulation_database or names.simulation_database,
            "postgres_database": postgres_db,
        },
        "replay": [{"role": r.role, "source": r.source, "target": names.topic(r.role)} for r in DUMPED_ROLES],
        "connections": connection_summary(manifest, postgres_db),
        "runtime": {
            **manifest.runtime.model_dump(mode="json", exclude_none=True),
            "run_dir": str(paths.root),
        },
        "runtime_env": dict(sorted(env.items())),
        "secrets": secrets,
        "guards": [g.as_dict() for g in guards],
        "warnings": manifest.warnings,
        "artifacts": {"manifest": str(paths.manifest), "plan": str(paths.plan)},
    }
    return DayPlan(manifest, names, guards, data, missing)


def plan_days(
    batch: BatchPlan,
    template: Mapping[str, Any],
    sequence: int = 1,
    output_root: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[DayPlan]:
    """Plan every day of a batch from a template."""
    plans = []
    for day in batch.days:
        names = names_for_day(day.trading_day, sequence)
        manifest = render_day_manifest(template, names, day.window, output_root)
        # Under skip-empty a holiday keeps its nominal window; the dump then reports an empty day.
        allow = batch.calendar_filter == "skip-empty"
        plans.append(build_day_plan(manifest, names, allow_non_trading_day=allow, environ=environ))
    return plans


def batch_plan_data(batch: BatchPlan, plans: list[DayPlan], sequence: int) -> dict[str, Any]:
    """The JSON view of a range plan: batches of run ids, skipped dates and every day's plan."""
    by_day = {p.manifest.window.trading_day: p.names.run_id for p in plans}
    return {
        "schema_version": BATCH_PLAN_SCHEMA,
        "ok": all(p.ok for p in plans),
        "from": batch.from_date.isoformat(),
        "to": batch.to_date.isoformat(),
        "calendar_filter": batch.calendar_filter,
        "max_parallel_days": batch.max_parallel_days,
        "sequence": sequence,
        "batches": [[by_day[d.trading_day] for d in group] for group in batch.batches],
        "skipped": [{"date": s.day.isoformat(), "reason": s.reason} for s in batch.skipped],
        "days": [p.data for p in plans],
    }


def plan_json(data: Mapping[str, Any]) -> str:
    """The canonical JSON text of a plan (stable key order as built, 2-space indent, trailing newline)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


class RunDirUnwritableError(TorghutSimError):
    """The run directory under the output root cannot be created or written."""

    reason = "output_root_unwritable"


def write_day_plan(plan: DayPlan) -> tuple[Path, Path]:
    """Write `manifest.yaml` and `plan.json` into the run directory; returns both paths."""
    paths = day_run_paths(plan.manifest, plan.names)
    try:
        manifest_path = write_day_manifest(plan.manifest, plan.names)
        paths.plan.write_text(plan_json(plan.data), encoding="utf-8")
    except OSError as exc:
        # A manifest without its plan would look like a planned day: take back what was written.
        with contextlib.suppress(OSError):
            paths.manifest.unlink(missing_ok=True)
        raise RunDirUnwritableError(
            f"cannot write the run directory {paths.root}: {exc.strerror or exc}"
        ) from None
    return manifest_path, paths.plan


@dataclass(frozen=True)
class WrittenDayPlan:
    """A day's plan as stored in its run directory."""

    plan: DayPlan
    manifest_path: Path
    plan_path: Path


def plan_day(
    template: Mapping[str, Any], names: RunNames, window: SessionWindow, output_root: str
) -> WrittenDayPlan:
    """Render the day's manifest from its template, plan it (guards included) and write both files."""
    manifest = render_day_manifest(template, names, window, output_root)
    plan = build_day_plan(manifest, names)
    manifest_path, plan_path = write_day_plan(plan)
    return WrittenDayPlan(plan, manifest_path, plan_path)
