"""The Argo CD element finder on the real ApplicationSet fixture and nested generators; mode targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.argocd import (
    DEFAULT_AUTOMATED,
    AppSetElementError,
    ArgoModeError,
    element_automation_pointer,
    find_list_element,
    mode_targets,
    verify_mode,
)
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.model import ObjectCapture, RuntimeState


def _appset(upstream_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(
        (upstream_dir / "gitops" / "applicationset-product.yaml").read_text()
    )
    return doc


def test_finds_torghut_element_inside_the_matrix_generator_of_the_real_fixture(upstream_dir: Path) -> None:
    appset = _appset(upstream_dir)
    pointer = find_list_element(appset, "torghut")
    assert pointer.startswith("/spec/generators/0/matrix/generators/1/list/elements/")
    element = jsonpointer.read(appset, pointer).value
    assert element["name"] == "torghut"
    assert element["path"] == "argocd/applications/torghut"
    assert jsonpointer.read(appset, element_automation_pointer(pointer)) == Captured.of("auto")


def test_other_names_resolve_to_other_elements(upstream_dir: Path) -> None:
    appset = _appset(upstream_dir)
    assert find_list_element(appset, "torghut-options") != find_list_element(appset, "torghut")
    assert jsonpointer.read(appset, find_list_element(appset, "forgejo") + "/automation").value == "manual"


def test_finds_elements_in_merge_generators_nested_in_a_matrix() -> None:
    appset = {
        "spec": {
            "generators": [
                {"list": {"elements": [{"name": "a"}]}},
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {}},
                            {
                                "merge": {
                                    "generators": [{"list": {"elements": [{"name": "x"}, {"name": "app"}]}}]
                                }
                            },
                        ]
                    }
                },
            ]
        }
    }
    assert find_list_element(appset, "app") == (
        "/spec/generators/1/matrix/generators/1/merge/generators/0/list/elements/1"
    )


def test_missing_and_ambiguous_elements_are_refused() -> None:
    appset = {"spec": {"generators": [{"list": {"elements": [{"name": "a"}, {"name": "a"}]}}]}}
    with pytest.raises(AppSetElementError) as missing:
        find_list_element(appset, "torghut")
    assert missing.value.reason == "appset_element_not_found"
    with pytest.raises(AppSetElementError) as twice:
        find_list_element(appset, "a")
    assert twice.value.reason == "appset_element_ambiguous"


def _app(automated: Captured) -> ObjectCapture:
    return ObjectCapture(
        role="argocd_app",
        namespace="argocd",
        name="torghut",
        exists=True,
        fields={"/spec/syncPolicy/automated": automated},
    )


def test_mode_targets_for_apps() -> None:
    policy = {"prune": True, "selfHeal": False}
    app = _app(Captured.of(policy))
    assert mode_targets(app, "manual") == {"/spec/syncPolicy/automated": Captured.absent()}
    assert mode_targets(app, "previous") == {"/spec/syncPolicy/automated": Captured.of(policy)}
    assert mode_targets(app, "auto") == {"/spec/syncPolicy/automated": Captured.of(policy)}
    never_auto = _app(Captured.absent())
    assert mode_targets(never_auto, "auto") == {"/spec/syncPolicy/automated": Captured.of(DEFAULT_AUTOMATED)}
    assert mode_targets(never_auto, "previous") == {"/spec/syncPolicy/automated": Captured.absent()}


def test_mode_targets_for_the_appset_element_and_missing_apps() -> None:
    pointer = "/spec/generators/0/list/elements/3/automation"
    appset = ObjectCapture(
        role="applicationset",
        namespace="argocd",
        name="product",
        exists=True,
        fields={pointer: Captured.of("auto")},
    )
    assert mode_targets(appset, "manual") == {pointer: Captured.of("manual")}
    assert mode_targets(appset, "previous") == {pointer: Captured.of("auto")}
    gone = ObjectCapture(role="argocd_root", namespace="argocd", name="root", exists=False)
    assert mode_targets(gone, "manual") == {}


class _ScriptedApp:
    """A cluster whose Application/torghut shows, look by look, the sync policies of a script."""

    def __init__(self, policies: list[dict[str, Any]]) -> None:
        self.policies = policies
        self.looks = 0

    def get(self, _ref: Any) -> dict[str, Any]:
        policy = self.policies[min(self.looks, len(self.policies) - 1)]
        self.looks += 1
        return {"spec": {"syncPolicy": policy}}


def _frozen_state() -> RuntimeState:
    return RuntimeState(
        run_id="sim-20260306-01",
        run_token="sim_20260306_01",
        dataset_id="torghut-trades-20260306",
        owner="tests",
        captured_at="2026-03-06T14:00:00Z",
        lock_namespace="torghut",
        objects=[_app(Captured.of({"prune": True}))],
    )


def _verify(kube: _ScriptedApp, timeout: float) -> list[float]:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    verify_mode(
        kube,  # type: ignore[arg-type]
        _frozen_state(),
        "manual",
        timeout_seconds=timeout,
        poll_seconds=1.0,
        sleep=sleep,
        clock=lambda: now[0],
    )
    return now


def test_the_frozen_mode_must_hold_for_several_looks_in_a_row() -> None:
    manual: dict[str, Any] = {}
    auto = {"automated": {"prune": True}}
    # Frozen, reverted by a stale render, then frozen for good: verified on the third frozen look after it.
    kube = _ScriptedApp([manual, auto, manual, manual, manual, auto])
    assert _verify(kube, timeout=60) == [4.0]
    assert kube.looks == 5


def test_a_mode_that_never_holds_fails_after_the_timeout_naming_the_field() -> None:
    kube = _ScriptedApp([{}, {"automated": {"prune": True}}])
    with pytest.raises(ArgoModeError) as failed:
        _verify(kube, timeout=5)
    assert failed.value.reason == "argocd_mode_mismatch"
    assert "after 5s" in str(failed.value) and "/spec/syncPolicy/automated" in str(failed.value)
    # Frozen at the deadline but not yet for long enough: the mode holds, which is what counts.
    assert _verify(_ScriptedApp([{"automated": {}}, {}]), timeout=1) == [1.0]
