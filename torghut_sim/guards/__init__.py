"""Safety guards that refuse a run before any side effect (CONTRACTS §1, §7).

Each check raises a `GuardRefusalError` with a stable reason code and a message naming the offending value.
`guard_mutation` is the one entry point every command, asset and job that changes anything calls first,
on the values it will really use (a `Mutation`); `run_guards` gives the same results for a manifest's
plan, and `enforce` refuses on any failure.
"""

from torghut_sim.guards.entry_points import (
    dumped_topics_mutation,
    guard_restore,
    manifest_mutation,
    run_guards,
    runtime_mutation,
)
from torghut_sim.guards.mutation import Mutation, enforce, guard_mutation
from torghut_sim.guards.results import GuardRefusalError, GuardResult, GuardsRefusedError

__all__ = [
    "GuardRefusalError",
    "GuardResult",
    "GuardsRefusedError",
    "Mutation",
    "dumped_topics_mutation",
    "enforce",
    "guard_mutation",
    "guard_restore",
    "manifest_mutation",
    "run_guards",
    "runtime_mutation",
]
