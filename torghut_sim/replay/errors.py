"""Errors of the replay, each with a stable reason code."""

from __future__ import annotations

from torghut_sim.errors import TorghutSimError


class ReplayError(TorghutSimError):
    """The replay could not complete."""

    reason = "replay_failed"


class ReplayTargetRefusedError(ReplayError):
    """A replay target that is a source or production topic, or lies outside the simulation namespace."""

    reason = "replay_target_forbidden"
