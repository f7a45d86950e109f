"""Guarded field patches: change fields only from the values the run expects, at the version it read.

A patch is computed from a fresh read and sent with that read's resourceVersion, so a concurrent write is
answered 409 by the server; it is then re-read and retried a bounded number of times. A field holding
anything other than an accepted value (normally the captured baseline) is refused, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import Kube, ObjectRef, PatchConflictError

DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class FieldChange:
    """Set (or remove, when target is absent) one field, allowed only from one of the accepted states."""

    pointer: str
    target: Captured
    accepted: tuple[Captured, ...] = ()
    # When True any current value is accepted (fields the run owns outright, like the Flink restart nonce).
    any_current: bool = False


class FieldNotAcceptedError(PatchConflictError):
    """A field holds a value the run did not capture or set: someone else changed it."""

    reason = "patch_conflict"


def _nested(tokens: Sequence[str], value: Any) -> Any:
    for token in reversed(tokens):
        value = {token: value}
    return value


def field_ops(document: dict[str, Any], change: FieldChange) -> list[dict[str, Any]]:
    """The JSON-patch ops that bring one field of a document to its target (empty when already there)."""
    current = jsonpointer.read(document, change.pointer)
    if current.same_as(change.target):
        return []
    if not change.any_current and not any(current.same_as(a) for a in change.accepted):
        accepted = " or ".join(a.describe() for a in change.accepted) or "nothing"
        raise FieldNotAcceptedError(
            f"field {change.pointer} is {current.describe()[:200]}, expected {accepted[:400]}; "
            "it was changed by someone else since it was captured"
        )
    if not change.target.present:
        return [{"op": "remove", "path": change.pointer}]
    tokens = jsonpointer.split(change.pointer)
    # Create missing parents in one `add`, since JSON patch cannot add below a missing object.
    for depth in range(1, len(tokens)):
        prefix = jsonpointer.join(*tokens[:depth])
        if not jsonpointer.read(document, prefix).present:
            return [{"op": "add", "path": prefix, "value": _nested(tokens[depth:], change.target.value)}]
    return [{"op": "add", "path": change.pointer, "value": change.target.value}]


def plan_patch(document: dict[str, Any], changes: Sequence[FieldChange]) -> list[dict[str, Any]]:
    """Every op for a set of changes against one read of the object."""
    ops: list[dict[str, Any]] = []
    for change in changes:
        ops.extend(field_ops(document, change))
    return ops


def guarded_patch(
    kube: Kube, ref: ObjectRef, changes: Sequence[FieldChange], attempts: int = DEFAULT_ATTEMPTS
) -> dict[str, Any]:
    """Apply the changes conditionally on the version read; retry on 409; return the object as written."""
    for attempt in range(1, attempts + 1):
        obj = kube.require(ref)
        ops = plan_patch(obj, changes)
        if not ops:
            return obj
        version = obj["metadata"]["resourceVersion"]
        # Writing the resourceVersion we read makes the server refuse (409) if the object moved on.
        guard = [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}]
        try:
            return kube.json_patch(ref, guard + ops)
        except FieldNotAcceptedError:
            raise
        except PatchConflictError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
