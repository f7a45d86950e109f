"""Field-level differences between what an object should hold and what the server holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import ObjectRef


@dataclass(frozen=True)
class FieldDifference:
    """One field of one object that is not what it should be."""

    ref: ObjectRef
    pointer: str
    expected: Captured
    actual: Captured

    def to_json(self, redact: bool = True) -> dict[str, Any]:
        """A JSON form for artifacts; values are left out when they may hold secrets."""
        doc: dict[str, Any] = {
            "object": self.ref.describe(),
            "kubectl_target": self.ref.kubectl_target(),
            "namespace": self.ref.namespace,
            "pointer": self.pointer,
            "expected_present": self.expected.present,
            "actual_present": self.actual.present,
        }
        if not redact:
            doc["expected"] = self.expected.value
            doc["actual"] = self.actual.value
        return doc


def differences(
    ref: ObjectRef, document: dict[str, Any] | None, wanted: Mapping[str, Captured]
) -> list[FieldDifference]:
    """Every wanted field the document does not hold (a missing object differs in every field)."""
    out: list[FieldDifference] = []
    for pointer, expected in wanted.items():
        actual = jsonpointer.read(document, pointer) if document is not None else Captured.absent()
        if not actual.same_as(expected):
            out.append(FieldDifference(ref, pointer, expected, actual))
    return out
