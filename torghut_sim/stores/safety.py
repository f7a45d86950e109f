"""Name guards shared by provisioning and cleanup: only `torghut_sim_*` databases, `torghut.sim.*` topics
and the runs' own consumer groups may ever be created, truncated or dropped by this package."""

from __future__ import annotations

import re
from collections.abc import Iterable

from torghut_sim.naming import ORDER_FEED_GROUP_PREFIX, TA_GROUP_PREFIX
from torghut_sim.stores.errors import UnsafeNameError
from torghut_sim.topics import PRODUCTION_TOPICS, SIMULATION_TOPIC_PREFIX

SIMULATION_DATABASE_PREFIX = "torghut_sim_"
# Names that are production or system databases on either server, whatever the manifest says.
PRODUCTION_DATABASES: frozenset[str] = frozenset(
    {
        "torghut",
        "default",
        "system",
        "information_schema",
        "INFORMATION_SCHEMA",
        "postgres",
        "template0",
        "template1",
    }
)
# Lower-case letters, digits and `_` only: safe unquoted in both servers and within Postgres' 63 bytes.
_DATABASE_RE = re.compile(r"^torghut_sim_[a-z0-9_]{1,51}$")
_TOPIC_RE = re.compile(r"^torghut\.sim\.[A-Za-z0-9._-]+$")
# The consumer groups a run's TA job and runtime use: one prefix each, then the run token.
SIMULATION_GROUP_PREFIXES: tuple[str, ...] = (TA_GROUP_PREFIX, ORDER_FEED_GROUP_PREFIX)
_GROUP_TOKEN_RE = re.compile(r"^[a-z0-9_]+$")


def require_simulation_database(name: str, production_databases: Iterable[str] = ()) -> str:
    """Return `name` when it is a simulation database name; refuse anything else."""
    forbidden = PRODUCTION_DATABASES | frozenset(production_databases)
    if name in forbidden:
        raise UnsafeNameError(f"refusing production database {name!r}")
    if not _DATABASE_RE.fullmatch(name):
        raise UnsafeNameError(
            f"refusing database {name!r}: simulation databases match {_DATABASE_RE.pattern}"
        )
    return name


def require_simulation_topic(name: str) -> str:
    """Return `name` when it is a simulation topic; refuse production and foreign topics."""
    if (
        name in PRODUCTION_TOPICS
        or not name.startswith(SIMULATION_TOPIC_PREFIX)
        or not _TOPIC_RE.fullmatch(name)
    ):
        raise UnsafeNameError(f"refusing topic {name!r}: only {SIMULATION_TOPIC_PREFIX}* topics")
    return name


def simulation_group_token(name: str) -> str | None:
    """The run token of a run's consumer group (`torghut-ta-sim-<token>`), or None for any other group."""
    for prefix in SIMULATION_GROUP_PREFIXES:
        token = name[len(prefix) :]
        if name.startswith(prefix) and _GROUP_TOKEN_RE.fullmatch(token):
            return token
    return None


def require_simulation_group(name: str) -> str:
    """Return `name` when it is a run's consumer group; refuse production and foreign groups."""
    if simulation_group_token(name) is None:
        prefixes = ", ".join(f"{p}<run_token>" for p in SIMULATION_GROUP_PREFIXES)
        raise UnsafeNameError(f"refusing consumer group {name!r}: only {prefixes}")
    return name


def is_simulation_database(name: str) -> bool:
    """True when `name` passes `require_simulation_database`."""
    try:
        require_simulation_database(name)
    except UnsafeNameError:
        return False
    return True


def redact_values(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every non-empty secret value replaced by `***` (for captured command output)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
