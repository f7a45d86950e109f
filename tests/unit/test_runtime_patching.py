"""Guarded field changes computed against a document: parents created, removals, foreign values refused."""

from __future__ import annotations

import pytest

from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.patching import FieldChange, FieldNotAcceptedError, field_ops, plan_patch


def test_pointers_escape_and_read_absent_paths() -> None:
    doc = {"data": {"a/b": 1, "m~n": [10, 20]}}
    assert jsonpointer.read(doc, jsonpointer.join("data", "a/b")) == Captured.of(1)
    assert jsonpointer.read(doc, jsonpointer.join("data", "m~n", 1)) == Captured.of(20)
    assert not jsonpointer.read(doc, "/data/missing/deeper").present
    assert not jsonpointer.read(doc, jsonpointer.join("data", "m~n", 5)).present
    assert jsonpointer.read(doc, "/data/a~1b") == Captured.of(1)


def test_adds_missing_parents_in_one_op() -> None:
    doc: dict[str, object] = {"spec": {}}
    change = FieldChange(
        "/spec/syncPolicy/automated", Captured.of({"prune": True}), accepted=(Captured.absent(),)
    )
    assert field_ops(doc, change) == [
        {"op": "add", "path": "/spec/syncPolicy", "value": {"automated": {"prune": True}}}
    ]


def test_removes_a_field_whose_target_is_absent_and_skips_fields_already_there() -> None:
    doc = {"spec": {"syncPolicy": {"automated": {}}}, "data": {"K": "v"}}
    remove = FieldChange("/spec/syncPolicy/automated", Captured.absent(), accepted=(Captured.of({}),))
    same = FieldChange("/data/K", Captured.of("v"))
    assert plan_patch(doc, [remove, same]) == [{"op": "remove", "path": "/spec/syncPolicy/automated"}]


def test_a_value_nobody_expected_is_refused_not_overwritten() -> None:
    doc = {"data": {"K": "changed-by-someone"}}
    change = FieldChange("/data/K", Captured.of("run"), accepted=(Captured.of("baseline"),))
    with pytest.raises(FieldNotAcceptedError) as refused:
        field_ops(doc, change)
    assert refused.value.reason == "patch_conflict"
    forced = FieldChange("/data/K", Captured.of("baseline"), any_current=True)
    assert field_ops(doc, forced) == [{"op": "add", "path": "/data/K", "value": "baseline"}]
