"""The whole dataset manifest: its sections, the lane and schema it must declare, and unknown keys kept."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from torghut_sim.manifest.run_settings import ArgoCDSpec, MonitorSpec, ReplaySpec, ReportingSpec, RuntimeSpec
from torghut_sim.manifest.section import Section
from torghut_sim.manifest.stores import ClickHouseSpec, KafkaSpec, PostgresSpec
from torghut_sim.manifest.window import WindowSpec

# The only market this product simulates; a manifest of another lane (e.g. `options`, whose runtime and TA
# keys differ) is refused rather than run as an equities day.
SIMULATED_LANES: frozenset[str] = frozenset({"equities"})
# Schema versions a manifest may declare; none declared means this one.
MANIFEST_SCHEMA_VERSION = "torghut.simulation-manifest.v1"
SUPPORTED_SCHEMA_VERSIONS: frozenset[str] = frozenset({MANIFEST_SCHEMA_VERSION})
# Sections other tools of the deployment read; kept verbatim without a warning.
PASSTHROUGH_SECTIONS: frozenset[str] = frozenset({"rollouts", "ta_restore", "autonomy"})


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
