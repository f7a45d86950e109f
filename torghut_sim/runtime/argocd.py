"""Argo CD freeze and restore: the ApplicationSet element's `automation` and the apps' automated sync.

The element named after the app is found in `spec.generators` at any nesting (matrix and merge generators
hold further generators). Freezing sets the element to `manual` and removes `spec.syncPolicy.automated`
from the app and from the root app that manages the ApplicationSet; restoring puts back what was captured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.diff import FieldDifference, differences
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.model import ARGO_FREEZE_ORDER, ObjectCapture, RuntimeState
from torghut_sim.runtime.patching import DEFAULT_ATTEMPTS, FieldChange, guarded_patch

AUTOMATED_POINTER = "/spec/syncPolicy/automated"
# An app switched to auto with no captured policy gets Argo CD's usual self-healing policy.
DEFAULT_AUTOMATED: dict[str, Any] = {"prune": True, "selfHeal": True}
Mode = Literal["manual", "auto", "previous"]


class AppSetElementError(TorghutSimError):
    """The app's list-generator element is missing or not unique in the ApplicationSet."""

    reason = "appset_element_not_found"


class ArgoModeError(TorghutSimError):
    """Argo CD is not in the mode the run set (or restored)."""

    reason = "argocd_mode_mismatch"


def _walk_elements(node: Any, pointer: str, name: str, found: list[str]) -> None:
    if isinstance(node, dict):
        listing = node.get("list")
        if isinstance(listing, dict) and isinstance(listing.get("elements"), list):
            for index, element in enumerate(listing["elements"]):
                if isinstance(element, dict) and element.get("name") == name:
                    found.append(f"{pointer}/list/elements/{index}")
        for key, value in node.items():
            if key != "list":
                _walk_elements(value, f"{pointer}/{jsonpointer.escape(key)}", name, found)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _walk_elements(item, f"{pointer}/{index}", name, found)


def find_list_element(appset: dict[str, Any], name: str) -> str:
    """The JSON pointer of the list-generator element with this `name`, at any generator nesting."""
    generators = appset.get("spec", {}).get("generators")
    found: list[str] = []
    _walk_elements(generators, "/spec/generators", name, found)
    if not found:
        raise AppSetElementError(f"no list-generator element named {name!r} in the ApplicationSet generators")
    if len(found) > 1:
        raise AppSetElementError(
            f"{len(found)} list-generator elements are named {name!r} ({', '.join(found)}); not guessing",
            reason="appset_element_ambiguous",
        )
    return found[0]


def element_automation_pointer(element_pointer: str) -> str:
    """The pointer of an element's `automation` key."""
    return f"{element_pointer}/automation"


def mode_targets(capture: ObjectCapture, mode: Mode) -> dict[str, Captured]:
    """The field values that put one captured Argo object into a mode (`previous` = as captured)."""
    if not capture.exists:
        return {}
    if mode == "previous":
        return dict(capture.fields)
    targets: dict[str, Captured] = {}
    for pointer, before in capture.fields.items():
        if capture.role == "applicationset":
            targets[pointer] = Captured.of(mode)
        elif mode == "manual":
            targets[pointer] = Captured.absent()
        else:
            targets[pointer] = before if before.present else Captured.of(DEFAULT_AUTOMATED)
    return targets


def _argo_objects(state: RuntimeState) -> list[ObjectCapture]:
    return [o for role in ARGO_FREEZE_ORDER if (o := state.by_role(role)) is not None and o.exists]


def set_mode(
    kube: Kube, state: RuntimeState, mode: Literal["manual", "auto"], attempts: int = DEFAULT_ATTEMPTS
) -> None:
    """Freeze (or unfreeze) Argo CD from the captured values, outermost object first."""
    for capture in _argo_objects(state):
        targets = mode_targets(capture, mode)
        changes = [FieldChange(p, target, accepted=(capture.fields[p],)) for p, target in targets.items()]
        guards = [FieldChange(p, g) for p, g in capture.guards.items()]
        guarded_patch(kube, capture.ref, guards + changes, attempts)


def restore(kube: Kube, state: RuntimeState, mode: Mode, attempts: int = DEFAULT_ATTEMPTS) -> None:
    """Put Argo CD back (`previous` = the captured values), innermost object first."""
    for capture in reversed(_argo_objects(state)):
        targets = mode_targets(capture, mode)
        if kube.get(capture.ref) is None:
            continue  # a deleted app has nothing left to restore; verify reports it
        changes = [FieldChange(p, target, any_current=True) for p, target in targets.items()]
        guards = [FieldChange(p, g) for p, g in capture.guards.items()]
        guarded_patch(kube, capture.ref, guards + changes, attempts)


def mode_differences(kube: Kube, state: RuntimeState, mode: Mode) -> list[FieldDifference]:
    """Where the live Argo objects differ from the mode (empty when they are in it)."""
    out: list[FieldDifference] = []
    for capture in _argo_objects(state):
        out.extend(differences(capture.ref, kube.get(capture.ref), mode_targets(capture, mode)))
    return out


def verify_mode(
    kube: Kube,
    state: RuntimeState,
    mode: Mode,
    *,
    timeout_seconds: float,
    poll_seconds: float,
    stable_polls: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait until every Argo field has shown the mode on `stable_polls` polls in a row; ArgoModeError
    naming the fields still out of it after `timeout_seconds`."""
    # Right after the patch the ApplicationSet controller may still render Application/torghut from the
    # element it saw before, putting `automated` back until it renders the patched one. One look would
    # pass before that render and leave the run to fail on drift later; a run of looks outlasts it.
    deadline = clock() + timeout_seconds
    held = 0
    while True:
        diffs = mode_differences(kube, state, mode)
        held = 0 if diffs else held + 1
        if held >= stable_polls or (not diffs and clock() >= deadline):
            return
        if clock() >= deadline:
            where = "; ".join(f"{d.ref.describe()} {d.pointer} = {d.actual.describe()}" for d in diffs)
            raise ArgoModeError(f"Argo CD is not {mode} after {timeout_seconds:g}s: {where}")
        sleep(poll_seconds)


def describe_live_mode(kube: Kube, state: RuntimeState) -> dict[str, str]:
    """Per Argo object, the live automation: `auto`/`manual` for the element, automated or not for apps."""
    out: dict[str, str] = {}
    for capture in _argo_objects(state):
        live = kube.get(capture.ref)
        for pointer in capture.fields:
            value = jsonpointer.read(live, pointer) if live is not None else Captured.absent()
            if capture.role == "applicationset":
                out[f"{capture.role}:{capture.name}"] = str(value.value) if value.present else "<absent>"
            else:
                out[f"{capture.role}:{capture.name}"] = "auto" if value.present else "manual"
    return out


class ArgoCd:
    """Argo CD on one cluster: the freeze, verify, describe and restore of a captured run's automation."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def set_mode(
        self, state: RuntimeState, mode: Literal["manual", "auto"], attempts: int = DEFAULT_ATTEMPTS
    ) -> None:
        """Freeze (or unfreeze) the captured Argo objects, outermost first."""
        set_mode(self.kube, state, mode, attempts)

    def restore(self, state: RuntimeState, mode: Mode, attempts: int = DEFAULT_ATTEMPTS) -> None:
        """Put the captured Argo objects back in a mode, innermost first."""
        restore(self.kube, state, mode, attempts)

    def differences(self, state: RuntimeState, mode: Mode) -> list[FieldDifference]:
        """Where the live Argo objects differ from the mode."""
        return mode_differences(self.kube, state, mode)

    def verify(
        self,
        state: RuntimeState,
        mode: Mode,
        *,
        timeout_seconds: float,
        poll_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Wait until the live Argo objects hold the mode (ArgoModeError after the timeout)."""
        verify_mode(
            self.kube, state, mode, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds, sleep=sleep
        )

    def describe(self, state: RuntimeState) -> dict[str, str]:
        """Per captured Argo object, its live automation."""
        return describe_live_mode(self.kube, state)
