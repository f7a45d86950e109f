"""Redaction of secrets before anything is written to an artifact or a log: DSNs become `user:***@host`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from torghut_sim.secrets import redact_dsn

_SECRET_NAME = re.compile(r"(DSN|PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY|ACCESS_KEY)", re.IGNORECASE)
REDACTED = "***"


def redact_env_value(name: str, value: str) -> str:
    """An env value safe to record: DSNs keep host and user, other secret-named values are hidden."""
    redacted = redact_dsn(value)
    if redacted != value:
        return redacted
    if _SECRET_NAME.search(name) and "://" not in value:
        return REDACTED if value else value
    return value


def redact_env_list(env: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A container env list safe to record: literal values redacted, `valueFrom` references kept."""
    out: list[dict[str, Any]] = []
    for entry in env:
        item = dict(entry)
        if isinstance(item.get("value"), str):
            item["value"] = redact_env_value(str(item.get("name", "")), item["value"])
        out.append(item)
    return out


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """A name → value mapping with every value redacted by its name."""
    return {k: redact_env_value(k, v) for k, v in values.items()}
