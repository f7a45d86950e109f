"""The Kafka topic roles of Torghut: production source topics and their simulation base topics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicRole:
    """One role: the production topic and the simulation base topic it maps to."""

    role: str
    source: str
    simulation_base: str
    dumped: bool


TOPIC_ROLES: tuple[TopicRole, ...] = (
    TopicRole("trades", "torghut.trades.v1", "torghut.sim.trades.v1", dumped=True),
    TopicRole("quotes", "torghut.quotes.v1", "torghut.sim.quotes.v1", dumped=True),
    TopicRole("bars", "torghut.bars.1m.v1", "torghut.sim.bars.1m.v1", dumped=True),
    TopicRole("status", "torghut.status.v1", "torghut.sim.status.v1", dumped=True),
    TopicRole("ta_microbars", "torghut.ta.bars.1s.v1", "torghut.sim.ta.bars.1s.v1", dumped=False),
    TopicRole("ta_signals", "torghut.ta.signals.v1", "torghut.sim.ta.signals.v1", dumped=False),
    TopicRole("ta_status", "torghut.ta.status.v1", "torghut.sim.ta.status.v1", dumped=False),
    TopicRole("order_updates", "torghut.trade-updates.v1", "torghut.sim.trade-updates.v1", dumped=False),
)
ROLES_BY_NAME: dict[str, TopicRole] = {r.role: r for r in TOPIC_ROLES}
ROLES_BY_SOURCE: dict[str, TopicRole] = {r.source: r for r in TOPIC_ROLES}
# Only these are read from production and replayed; the others are produced by the runtime itself.
DUMPED_ROLES: tuple[TopicRole, ...] = tuple(r for r in TOPIC_ROLES if r.dumped)
PRODUCTION_TOPICS: frozenset[str] = frozenset(r.source for r in TOPIC_ROLES)
SIMULATION_TOPIC_PREFIX = "torghut.sim."


def simulation_topic(role: str, run_token: str) -> str:
    """The run-suffixed simulation topic of a role: `<simulation base topic>.<run_token>`."""
    return f"{ROLES_BY_NAME[role].simulation_base}.{run_token}"
