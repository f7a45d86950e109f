"""Deterministic names of one simulation run: ids, run token, databases, topics, groups, Kubernetes names.

Every name is a pure function of (trading day, sequence) or of an explicit run id (CONTRACTS §1).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

from torghut_sim.errors import TorghutSimError
from torghut_sim.topics import TOPIC_ROLES, simulation_topic

SIMULATION_DATABASE_PREFIX = "torghut_sim_"
TA_GROUP_PREFIX = "torghut-ta-sim-"
ORDER_FEED_GROUP_PREFIX = "torghut-order-feed-sim-"
K8S_NAME_MAX = 63
MAX_SEQUENCE = 99
_HASH_LENGTH = 8
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NON_K8S = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


class NamingError(TorghutSimError):
    """An identifier that cannot be derived (empty token, bad sequence, unusable name)."""

    reason = "naming_error"


def run_id_for(day: date, sequence: int = 1) -> str:
    """`sim-<YYYYMMDD>-<NN>`: the run id of the n-th run of a day (01 first)."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise NamingError(
            f"sequence must be between 1 and {MAX_SEQUENCE}, got {sequence}", reason="invalid_sequence"
        )
    return f"sim-{day:%Y%m%d}-{sequence:02d}"


def dataset_id_for(day: date) -> str:
    """`torghut-trades-<YYYYMMDD>`: the dataset id of a day."""
    return f"torghut-trades-{day:%Y%m%d}"


def run_token_for(run_id: str) -> str:
    """The run id lower-cased, each run of non-alphanumerics replaced by `_`, trimmed; empty is refused."""
    token = _NON_ALNUM.sub("_", run_id.lower()).strip("_")
    if not token:
        raise NamingError(f"run id {run_id!r} has no alphanumeric characters", reason="empty_run_token")
    return token


def simulation_database_for(run_token: str) -> str:
    """`torghut_sim_<run_token>`: the ClickHouse and Postgres simulation database."""
    return f"{SIMULATION_DATABASE_PREFIX}{run_token}"


def k8s_name(value: str, max_length: int = K8S_NAME_MAX) -> str:
    """A DNS-1123 label: lower-case, `-` for anything else, ≤ max_length with a stable hash when cut."""
    name = _DASHES.sub("-", _NON_K8S.sub("-", value.lower())).strip("-")
    if not name:
        raise NamingError(f"{value!r} gives an empty Kubernetes name", reason="empty_k8s_name")
    if len(name) <= max_length:
        return name
    # The hash of the untruncated input keeps two long names with a common prefix distinct.
    digest = hashlib.sha256(value.encode()).hexdigest()[:_HASH_LENGTH]
    head = name[: max_length - _HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{digest}"


@dataclass(frozen=True)
class RunNames:
    """Every name one run uses; build with `names_for_day` or `names_for_run_id`."""

    run_id: str
    dataset_id: str
    run_token: str
    simulation_database: str
    simulation_topics: tuple[tuple[str, str], ...]
    ta_group_id: str
    order_feed_group_id: str
    k8s_run_name: str

    def topic(self, role: str) -> str:
        """The simulation topic of one role."""
        return self.topics_by_role[role]

    @property
    def topics_by_role(self) -> dict[str, str]:
        """Role → run-suffixed simulation topic, for every role."""
        return dict(self.simulation_topics)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view for plans and artifacts."""
        return {
            "run_id": self.run_id,
            "dataset_id": self.dataset_id,
            "run_token": self.run_token,
            "simulation_database": self.simulation_database,
            "simulation_topics": self.topics_by_role,
            "ta_group_id": self.ta_group_id,
            "order_feed_group_id": self.order_feed_group_id,
            "k8s_run_name": self.k8s_run_name,
        }


def names_for_run_id(run_id: str, dataset_id: str) -> RunNames:
    """All names derived from an explicit run id."""
    token = run_token_for(run_id)
    return RunNames(
        run_id=run_id,
        dataset_id=dataset_id,
        run_token=token,
        simulation_database=simulation_database_for(token),
        simulation_topics=tuple((r.role, simulation_topic(r.role, token)) for r in TOPIC_ROLES),
        ta_group_id=f"{TA_GROUP_PREFIX}{token}",
        order_feed_group_id=f"{ORDER_FEED_GROUP_PREFIX}{token}",
        k8s_run_name=k8s_name(f"torghut-sim-{token}"),
    )


def names_for_day(day: date, sequence: int = 1) -> RunNames:
    """All names of the n-th run of a trading day."""
    return names_for_run_id(run_id_for(day, sequence), dataset_id_for(day))
