"""The dataset manifest (CONTRACTS §8): one pydantic model per section, loading and writing.

Every real manifest loads unchanged. Unknown top-level sections (`rollouts`, `ta_restore`, …) are kept
and written back; unknown keys inside known sections are kept too and listed in `manifest.warnings` so
a typo is visible rather than silently ignored. Secrets are never read from the file: inline passwords
are refused and only the names of environment variables are stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from torghut_sim.calendar import MAX_BUFFER_MINUTES, NEW_YORK, CalendarError, nominal_session_window
from torghut_sim.errors import TorghutSimError
from torghut_sim.secrets import dsn_database, dsn_has_password, dsn_with_database

FULL_DAY_PROFILE = "us_equities_regular"
DEFAULT_STRICT_COVERAGE_RATIO = 0.95
# The only market this product simulates; a manifest of another lane (e.g. `options`, whose runtime and TA
# keys differ) is refused rather than run as an equities day.
SIMULATED_LANES: frozenset[str] = frozenset({"equities"})
# Schema versions a manifest may declare; none declared means this one.
MANIFEST_SCHEMA_VERSION = "torghut.simulation-manifest.v1"
SUPPORTED_SCHEMA_VERSIONS: frozenset[str] = frozenset({MANIFEST_SCHEMA_VERSION})
# Refusals whose own reason code is more useful than `invalid_manifest`.
_REASON_ERRORS: tuple[str, ...] = ("unsupported_lane", "unsupported_schema_version", "inline_secret")
# Sections other tools of the deployment read; kept verbatim without a warning.
PASSTHROUGH_SECTIONS: frozenset[str] = frozenset({"rollouts", "ta_restore", "autonomy"})


class ManifestError(TorghutSimError):
    """A manifest that cannot be read or does not validate."""

    reason = "invalid_manifest"


def _no_inline_secret(value: str | None, field: str, env_field: str) -> str | None:
    """Refuse a secret written into the file; only an empty placeholder is accepted."""
    if value:
        raise PydanticCustomError(
            "inline_secret",
            "{field} must not hold a secret in the file; name an environment variable in {env_field}",
            {"field": field, "env_field": env_field},
        )
    return value


def _no_dsn_password(value: str | None, field: str) -> str | None:
    """Refuse a DSN with an inline password; passwords come from `*_password_env`."""
    if value is not None and dsn_has_password(value):
        raise PydanticCustomError(
            "inline_secret",
            "{field} must not carry a password; use the matching *_password_env variable",
            {"field": field},
        )
    return value


class Section(BaseModel):
    """A manifest section: unknown keys are kept (and reported), never dropped."""

    model_config = ConfigDict(extra="allow")

    def unknown_keys(self) -> list[str]:
        """Keys present in the file that this model does not know."""
        return sorted((self.model_extra or {}).keys())


class WindowSpec(Section):
    """The replay window in UTC; `profile: us_equities_regular` marks a full NYSE session."""

    profile: str | None = None
    trading_day: date | None = None
    timezone: str = "America/New_York"
    start: datetime
    end: datetime
    min_coverage_minutes: int | None = Field(default=None, ge=0)
    strict_coverage_ratio: float = Field(default=DEFAULT_STRICT_COVERAGE_RATIO, gt=0, le=1)
    # Buffers widen only the dump window; the full-day and coverage rules judge start..end.
    pre_buffer_minutes: int = Field(default=0, ge=0, le=MAX_BUFFER_MINUTES)
    post_buffer_minutes: int = Field(default=0, ge=0, le=MAX_BUFFER_MINUTES)

    @field_validator("start", "end")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        """Window bounds must carry a zone; they are normalized to UTC."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a time zone (e.g. a trailing Z)")
        return value.astimezone(UTC)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """The zone name must be a real IANA zone."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _defaults(self) -> WindowSpec:
        """Fill the trading day from start, and min coverage from the session (full day) or the window."""
        if self.trading_day is None:
            self.trading_day = self.start.astimezone(NEW_YORK).date()
        if self.min_coverage_minutes is None:
            self.min_coverage_minutes = self._default_min_coverage()
        return self

    def _default_min_coverage(self) -> int:
        """Session length for the full-day profile, else the window length."""
        if self.profile == FULL_DAY_PROFILE and self.trading_day is not None:
            try:
                return nominal_session_window(self.trading_day).session_minutes
            except CalendarError:
                pass  # out of calendar range: the guards report it; fall back to the window length
        return max(0, int((self.end - self.start).total_seconds() // 60))

    @property
    def minutes(self) -> float:
        """Length of start..end in minutes."""
        return (self.end - self.start).total_seconds() / 60

    @property
    def dump_start(self) -> datetime:
        """Start of the dump window: start minus the pre-buffer."""
        return self.start - timedelta(minutes=self.pre_buffer_minutes)

    @property
    def dump_end(self) -> datetime:
        """End of the dump window: end plus the post-buffer."""
        return self.end + timedelta(minutes=self.post_buffer_minutes)


class KafkaSpec(Section):
    """Kafka for the dump (base fields) and for the runtime (`runtime_*` twins, defaulting to the base)."""

    bootstrap_servers: str
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    sasl_password_env: str | None = None
    runtime_bootstrap_servers: str | None = None
    runtime_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    runtime_sasl_mechanism: str | None = None
    runtime_sasl_username: str | None = None
    runtime_sasl_password: str | None = None
    runtime_sasl_password_env: str | None = None
    default_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)

    @field_validator("sasl_password", "runtime_sasl_password")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        """Kafka passwords come from `*_sasl_password_env`."""
        return _no_inline_secret(value, "kafka.sasl_password", "sasl_password_env")

    @model_validator(mode="after")
    def _runtime_twins(self) -> KafkaSpec:
        """Each unset runtime twin takes its base value."""
        if self.runtime_bootstrap_servers is None:
            self.runtime_bootstrap_servers = self.bootstrap_servers
        if self.runtime_security_protocol is None:
            self.runtime_security_protocol = self.security_protocol
        if self.runtime_sasl_mechanism is None:
            self.runtime_sasl_mechanism = self.sasl_mechanism
        if self.runtime_sasl_username is None:
            self.runtime_sasl_username = self.sasl_username
        if self.runtime_sasl_password_env is None:
            self.runtime_sasl_password_env = self.sasl_password_env
        return self


class ClickHouseSpec(Section):
    """ClickHouse over HTTP; the password comes from `password_env`."""

    http_url: str
    username: str = "default"
    password: str | None = None
    password_env: str | None = None
    password_secret_name: str | None = None
    password_secret_key: str | None = None
    secret_namespace: str | None = None
    simulation_database: str | None = None

    @field_validator("password")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        """ClickHouse passwords come from `password_env`."""
        return _no_inline_secret(value, "clickhouse.password", "password_env")


class PostgresSpec(Section):
    """Postgres: the admin DSN that creates the simulation database, and the simulation DSNs."""

    admin_dsn: str | None = None
    admin_dsn_env: str | None = None
    admin_dsn_password_env: str | None = None
    simulation_dsn: str | None = None
    simulation_dsn_template: str | None = None
    simulation_dsn_password_env: str | None = None
    runtime_simulation_dsn: str | None = None
    runtime_simulation_dsn_template: str | None = None
    runtime_simulation_dsn_password_env: str | None = None
    migrations_command: str | None = None

    @field_validator(
        "admin_dsn",
        "simulation_dsn",
        "simulation_dsn_template",
        "runtime_simulation_dsn",
        "runtime_simulation_dsn_template",
    )
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        """DSNs in the file carry no password."""
        return _no_dsn_password(value, "postgres DSN")

    @model_validator(mode="after")
    def _consistent(self) -> PostgresSpec:
        """Exactly one admin source, at least one simulation DSN form, runtime twins defaulted."""
        if (self.admin_dsn is None) == (self.admin_dsn_env is None):
            raise ValueError("set exactly one of admin_dsn or admin_dsn_env")
        if self.simulation_dsn is None and self.simulation_dsn_template is None:
            raise ValueError("set simulation_dsn or simulation_dsn_template")
        for name in ("simulation_dsn_template", "runtime_simulation_dsn_template"):
            template = getattr(self, name)
            if template is not None and "{db}" not in template:
                raise ValueError(f"{name} must contain the placeholder {{db}}")
        if self.runtime_simulation_dsn is None and self.runtime_simulation_dsn_template is None:
            self.runtime_simulation_dsn = self.simulation_dsn
            self.runtime_simulation_dsn_template = self.simulation_dsn_template
        if self.runtime_simulation_dsn_password_env is None:
            self.runtime_simulation_dsn_password_env = self.simulation_dsn_password_env
        return self

    def simulation_database(self, default: str) -> str:
        """The simulation database: the one a fixed `simulation_dsn` names, else `default`."""
        return dsn_database(self.simulation_dsn) if self.simulation_dsn else default

    def simulation_dsn_for(self, database: str) -> str:
        """The (password-less) simulation DSN for a database."""
        return _dsn_for(self.simulation_dsn, self.simulation_dsn_template, database)

    def runtime_simulation_dsn_for(self, database: str) -> str:
        """The (password-less) DSN the runtime uses for a database."""
        return _dsn_for(self.runtime_simulation_dsn, self.runtime_simulation_dsn_template, database)


def _dsn_for(fixed: str | None, template: str | None, database: str) -> str:
    """A fixed DSN as written, else the template with `{db}` filled in."""
    if fixed is not None:
        return fixed
    if template is None:
        raise ManifestError("no simulation DSN or template", reason="invalid_manifest")
    return template.replace("{db}", database)


class RuntimeSpec(Section):
    """Where the simulation runtime lives and where artifacts go."""

    target_mode: Literal["dedicated_service"] = "dedicated_service"
    namespace: str = "torghut"
    ta_configmap: str = "torghut-ta-sim-config"
    ta_deployment: str = "torghut-ta-sim"
    torghut_service: str = "torghut-sim"
    output_root: str = "artifacts/torghut/simulations"
    # Where the runtime serves `GET /metrics`; unset → the URL its Knative Service status announces.
    metrics_url: str | None = None


class ReplaySpec(Section):
    """How the dump is produced to the simulation topics."""

    pace_mode: Literal["max_throughput", "event_time", "accelerated"] = "max_throughput"
    acceleration: float = Field(default=60, gt=0)
    max_sleep_seconds: float = Field(default=5, ge=0)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    flush_every_records: int = Field(default=50_000, ge=1)
    flush_timeout_seconds: float = Field(default=60, gt=0)
    final_flush_timeout_seconds: float = Field(default=180, gt=0)
    status_update_every_records: int = Field(default=25_000, ge=1)
    status_update_every_seconds: float = Field(default=30, gt=0)


class MonitorSpec(Section):
    """How long to wait for the runtime and the minimum activity a run must show."""

    timeout_seconds: float = Field(default=14_400, gt=0)
    poll_seconds: float = Field(default=30, gt=0)
    min_trade_decisions: int = Field(default=1, ge=0)
    min_executions: int = Field(default=1, ge=0)
    min_execution_tca_metrics: int = Field(default=1, ge=0)
    min_execution_order_events: int = Field(default=0, ge=0)
    cursor_grace_seconds: float = Field(default=120, ge=0)


class ArgoCDSpec(Section):
    """Argo CD automation of the Torghut app: frozen to manual during a run, restored after."""

    manage_automation: bool = True
    applicationset_name: str = "product"
    applicationset_namespace: str = "argocd"
    app_name: str = "torghut"
    desired_mode_during_run: Literal["manual", "auto"] = "manual"
    restore_mode_after_run: Literal["previous", "manual", "auto"] = "previous"
    verify_timeout_seconds: float = Field(default=600, gt=0)


class ReportingSpec(Section):
    """Cost assumptions of the P&L report, exact decimals."""

    commission_bps: Decimal = Field(default=Decimal(0), ge=0)
    per_trade_fee: Decimal = Field(default=Decimal(0), ge=0)


class DatasetManifest(BaseModel):
    """A whole dataset manifest; unknown top-level sections are preserved."""

    model_config = ConfigDict(extra="allow")

    lane: str | None = None
    schema_version: str | None = None
    dataset_id: str = Field(min_length=1)
    dataset_snapshot_ref: str | None = None
    candidate_id: str | None = None
    baseline_candidate_id: str | None = None
    strategy_spec_ref: str | None = None
    model_refs: list[str] = Field(default_factory=list)
    runtime_version_refs: list[str] = Field(default_factory=list)
    window: WindowSpec
    kafka: KafkaSpec
    clickhouse: ClickHouseSpec
    postgres: PostgresSpec
    runtime: RuntimeSpec = Field(default_factory=RuntimeSpec)
    replay: ReplaySpec = Field(default_factory=ReplaySpec)
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    argocd: ArgoCDSpec = Field(default_factory=ArgoCDSpec)
    reporting: ReportingSpec = Field(default_factory=ReportingSpec)
    torghut_env_overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("lane")
    @classmethod
    def _simulated_lane(cls, value: str | None) -> str | None:
        """Only the equities lane is simulated here."""
        if value is not None and value not in SIMULATED_LANES:
            raise PydanticCustomError(
                "unsupported_lane",
                "lane '{lane}' is not simulated by torghut-sim (it simulates: {lanes})",
                {"lane": value, "lanes": ", ".join(sorted(SIMULATED_LANES))},
            )
        return value

    @field_validator("schema_version")
    @classmethod
    def _supported_schema(cls, value: str | None) -> str | None:
        """Only manifest schemas this product reads."""
        if value is not None and value not in SUPPORTED_SCHEMA_VERSIONS:
            raise PydanticCustomError(
                "unsupported_schema_version",
                "schema_version '{version}' is not a manifest torghut-sim simulates (it reads: {known})",
                {"version": value, "known": ", ".join(sorted(SUPPORTED_SCHEMA_VERSIONS))},
            )
        return value

    @field_validator("torghut_env_overrides", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        """YAML scalars become env strings (`true` → "true"); nested values are refused."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                out[key] = "true" if item else "false"
            elif isinstance(item, int | float | Decimal):
                out[key] = str(item)
            else:
                out[key] = item
        return out

    def sections(self) -> dict[str, Section]:
        """The known sections by name."""
        fields = type(self).model_fields
        return {name: value for name in fields if isinstance(value := getattr(self, name), Section)}

    @property
    def extra_sections(self) -> dict[str, Any]:
        """Top-level sections this model does not interpret, kept verbatim."""
        return dict(self.model_extra or {})

    @property
    def warnings(self) -> list[str]:
        """Keys the model does not understand: inside known sections, or unexpected at the top level."""
        found = [
            f"unknown key {section}.{key} (kept, not interpreted)"
            for section, model in self.sections().items()
            for key in model.unknown_keys()
        ]
        found += [
            f"unknown top-level section {key} (kept, not interpreted)"
            for key in sorted(self.extra_sections)
            if key not in PASSTHROUGH_SECTIONS
        ]
        return found

    def to_data(self) -> dict[str, Any]:
        """A plain JSON/YAML-ready mapping (decimals and datetimes as strings), unknown keys included."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        return data


def _error_message(exc: ValidationError) -> str:
    """Locations and messages only: input values may be secrets and are never echoed."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_manifest(data: Any, source: str = "<manifest>") -> DatasetManifest:
    """Validate a mapping as a dataset manifest."""
    if not isinstance(data, Mapping):
        raise ManifestError(f"{source}: a manifest must be a mapping, got {type(data).__name__}")
    try:
        return DatasetManifest.model_validate(dict(data))
    except ValidationError as exc:
        types = {e["type"] for e in exc.errors()}
        reason = next((r for r in _REASON_ERRORS if r in types), "invalid_manifest")
        raise ManifestError(f"{source}: {_error_message(exc)}", reason=reason) from None


def read_mapping(path: Path) -> Any:
    """The parsed YAML or JSON content of a file (JSON when the suffix is .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist", reason="manifest_not_found") from None
    except OSError as exc:
        raise ManifestError(f"manifest {path} cannot be read: {exc}", reason="manifest_unreadable") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"manifest {path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            reason="manifest_unreadable",
        ) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ManifestError(f"manifest {path} is not valid: {first}", reason="manifest_unreadable") from None


def load_manifest(path: Path | str) -> DatasetManifest:
    """Load and validate a YAML or JSON manifest file."""
    p = Path(path)
    return parse_manifest(read_mapping(p), source=str(p))


def manifest_yaml(manifest: DatasetManifest) -> str:
    """The manifest as YAML text, sections in model order, unknown sections at the end."""
    return yaml.safe_dump(manifest.to_data(), sort_keys=False, default_flow_style=False, allow_unicode=True)


def dump_manifest(manifest: DatasetManifest, path: Path | str) -> Path:
    """Write the manifest as YAML (creating the directory); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(manifest_yaml(manifest), encoding="utf-8")
    return p


def with_simulation_database(postgres: PostgresSpec, database: str) -> PostgresSpec:
    """A copy of the Postgres section whose fixed DSNs point at `database` (templates unchanged)."""
    update: dict[str, Any] = {}
    if postgres.simulation_dsn is not None:
        update["simulation_dsn"] = dsn_with_database(postgres.simulation_dsn, database)
    if postgres.runtime_simulation_dsn is not None:
        update["runtime_simulation_dsn"] = dsn_with_database(postgres.runtime_simulation_dsn, database)
    return postgres.model_copy(update=update)
