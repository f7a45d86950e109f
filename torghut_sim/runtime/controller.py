"""The runtime steps of one run, in the order the state machine calls them, over one captured state.

Lock → capture + Argo freeze → TA and Knative patches + Flink restart → readiness → (the pipeline's work)
→ runtime restore → Argo restore → unlock. Every step is idempotent for the same run, so a resumed run
repeats it safely; each returns JSON-able details for `run-state.json` (secrets redacted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.layout import RunPaths
from torghut_sim.runtime import knative, ta
from torghut_sim.runtime.argocd import ArgoCd, Mode
from torghut_sim.runtime.capture import load_or_capture, record_applied_env
from torghut_sim.runtime.diff import FieldDifference, differences
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.heartbeat import LockHeartbeat
from torghut_sim.runtime.inputs import RunIdentity, RuntimeTargets, SimulationValues
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import DEFAULT_LEASE_SECONDS, LockInfo, acquire_lock, release_lock
from torghut_sim.runtime.model import ARGO_FREEZE_ORDER, RUNTIME_ROLES, RuntimeState, read_state
from torghut_sim.runtime.readiness import Readiness, wait_until_ready
from torghut_sim.runtime.redaction import redact_env_list, redact_mapping
from torghut_sim.runtime.restore import (
    raise_if_failed,
    record_unlock_failure,
    remove_run_secret,
    restore_argocd,
    restore_runtime,
    unverified_report,
    update_marker,
)
from torghut_sim.runtime.run_secret import secret_values, write_run_secret


class ConfigDriftError(TorghutSimError):
    """Something (Argo CD self-heal, a person) reverted the run's runtime configuration."""

    reason = "blocked_config_drift"


class NotCapturedError(TorghutSimError):
    """A step that needs the captured state ran before capture."""

    reason = "state_not_captured"


@dataclass(frozen=True)
class ControlSettings:
    """Timeouts and retry bounds of runtime control."""

    ready_timeout_seconds: float = 600.0
    poll_seconds: float = 2.0
    # Time given to a self-healing Argo CD to revert the patches before drift is checked.
    drift_settle_seconds: float = 0.0
    lock_max_age: timedelta | None = timedelta(hours=12)
    patch_attempts: int = 5
    # The holder renews the lock's heartbeat this often while it lives; a sensor finishes the teardown of
    # a holder silent for longer than the lease (see sensors/stale_lock.py).
    heartbeat_seconds: float = 15.0
    lease_seconds: int = DEFAULT_LEASE_SECONDS


class RuntimeController:
    """Runtime control of one run: every cluster mutation and its undo."""

    def __init__(
        self,
        kube: Kube,
        paths: RunPaths,
        targets: RuntimeTargets,
        identity: RunIdentity,
        values: SimulationValues | None = None,
        settings: ControlSettings | None = None,
        sleep: Callable[[float], None] | None = None,
        lock_owner_finished: Callable[[LockInfo], bool] | None = None,
        argocd: ArgoCd | None = None,
    ) -> None:
        self.kube = kube
        # Argo CD on the same cluster; a caller hands in the one its resource (or test) provides.
        self.argocd = argocd or ArgoCd(kube)
        self.paths = paths
        self.targets = targets
        self.identity = identity
        self.values = values
        self.settings = settings or ControlSettings()
        self._sleep = sleep
        self._lock_owner_finished = lock_owner_finished
        self._state: RuntimeState | None = None
        self._heartbeat: LockHeartbeat | None = None

    @classmethod
    def from_state(
        cls,
        kube: Kube,
        paths: RunPaths,
        settings: ControlSettings | None = None,
        argocd: ArgoCd | None = None,
    ) -> RuntimeController:
        """A controller that can tear a run down from its state.json alone (after a crash, in any process)."""
        state = read_state(paths.state)
        identity = RunIdentity(state.run_id, state.run_token, state.dataset_id, state.owner)
        targets = RuntimeTargets(
            namespace=state.lock_namespace,
            manage_argocd=any(o.role in ARGO_FREEZE_ORDER for o in state.objects),
            restore_mode_after_run=state.restore_mode_after_run,
        )
        controller = cls(kube, paths, targets, identity, None, settings, argocd=argocd)
        controller._state = state
        return controller

    # --- state ---------------------------------------------------------------------------------------

    @property
    def state(self) -> RuntimeState:
        """The captured state (loaded from state.json when this process did not capture it)."""
        if self._state is None:
            if not self.paths.state.exists():
                raise NotCapturedError(f"no captured state at {self.paths.state}")
            self._state = read_state(self.paths.state)
        return self._state

    def _require_values(self) -> SimulationValues:
        if self.values is None:
            raise NotCapturedError("no simulation values were given to apply")
        return self.values

    def desired_env(self) -> list[dict[str, Any]]:
        """The whole env list the run writes on the runtime container."""
        return knative.desired_env_list(
            self.state.require_role("knative_service"),
            self._require_values().torghut_env,
            self.state.run_secret,
        )

    def wanted_runtime(self) -> dict[str, tuple[Any, dict[str, Captured]]]:
        """Per runtime role: the object's ref and the field values the run holds while applied."""
        state = self.state
        cm = state.require_role("ta_configmap")
        svc = state.require_role("knative_service")
        flink = state.require_role("flink_deployment")
        return {
            "ta_configmap": (cm.ref, ta.configmap_targets(dict(self._require_values().ta_config))),
            "knative_service": (svc.ref, {knative.ENV_POINTER: Captured.of(self.desired_env())}),
            "flink_deployment": (flink.ref, ta.flink_targets(flink)),
        }

    # --- steps ---------------------------------------------------------------------------------------

    def acquire_lock(self) -> dict[str, Any]:
        """Take (or reuse) the runtime lock."""
        held: LockInfo = acquire_lock(
            self.kube,
            self.targets.namespace,
            self.identity,
            max_age=self.settings.lock_max_age,
            owner_finished=self._lock_owner_finished,
            run_dir_hint=lambda holder: str(self.paths.root.parent / holder.run_token),
            run_dir=str(self.paths.root.resolve()),
            lease_seconds=self.settings.lease_seconds,
        )
        self.start_heartbeat()
        return {
            "lock": "acquired",
            "owner": held.owner,
            "acquired_at": held.acquired_at.isoformat(),
            "lease_seconds": self.settings.lease_seconds,
        }

    def start_heartbeat(self) -> None:
        """Renew the lock's heartbeat in the background until the unlock (or `stop_heartbeat`)."""
        if self._heartbeat is None:
            self._heartbeat = LockHeartbeat(
                self.kube,
                self.targets.namespace,
                self.identity,
                self.settings.heartbeat_seconds,
                self.settings.lease_seconds,
            )
        self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        """Stop renewing (the process is about to leave the lock to its lease, or has released it)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def prepare_argocd(self) -> dict[str, Any]:
        """Capture everything the run patches, then freeze Argo CD in the run mode and verify it."""
        self._state = load_or_capture(self.kube, self.paths.state, self.targets, self.identity)
        details: dict[str, Any] = {
            "state_file": str(self.paths.state),
            "captured_at": self._state.captured_at,
        }
        if not self.targets.manage_argocd:
            details["argocd"] = "not managed"
            return details
        mode = self.targets.desired_mode_during_run
        self.argocd.set_mode(self._state, mode, self.settings.patch_attempts)
        self.argocd.verify(
            self._state,
            mode,
            timeout_seconds=self.targets.argocd_verify_timeout_seconds,
            poll_seconds=self.settings.poll_seconds,
            sleep=self._sleep or time.sleep,
        )
        details["argocd"] = self.argocd.describe(self._state)
        return details

    def apply(self) -> dict[str, Any]:
        """Patch TA keys, the runtime env and restart Flink; then refuse to go on if anything reverts."""
        values = self._require_values()
        state = self.state
        ta.apply_configmap(
            self.kube,
            state.require_role("ta_configmap"),
            dict(values.ta_config),
            self.settings.patch_attempts,
        )
        if state.run_secret is not None:
            # First the Secret, then the env that refers to it: the runtime never starts without its DSN.
            write_run_secret(
                self.kube,
                state.lock_namespace,
                state.run_secret,
                secret_values(values.torghut_env),
                self.identity.run_id,
            )
        env = knative.apply_env(
            self.kube,
            state.require_role("knative_service"),
            values.torghut_env,
            self.settings.patch_attempts,
            state.run_secret,
        )
        self._state = record_applied_env(self.paths.state, state, knative.env_fingerprint(env))
        nonce = ta.restart_flink(
            self.kube, state.require_role("flink_deployment"), self.settings.patch_attempts
        )
        if self.settings.drift_settle_seconds > 0 and self._sleep is not None:
            self._sleep(self.settings.drift_settle_seconds)
        self.raise_on_drift()
        return {
            "ta_config": redact_mapping(dict(values.ta_config)),
            "torghut_env": redact_mapping(dict(values.torghut_env)),
            "restart_nonce": nonce,
        }

    def drift(self) -> list[FieldDifference]:
        """Every field of the runtime and of Argo CD that no longer holds the run's value."""
        found: list[FieldDifference] = []
        for ref, wanted in self.wanted_runtime().values():
            found.extend(differences(ref, self.kube.get(ref), wanted))
        if self.targets.manage_argocd:
            found.extend(self.argocd.differences(self.state, self.targets.desired_mode_during_run))
        return found

    def raise_on_drift(self) -> None:
        """ConfigDriftError naming each reverted field."""
        found = self.drift()
        if found:
            where = "; ".join(f"{d.ref.describe()} {d.pointer}" for d in found)
            raise ConfigDriftError(f"runtime configuration was reverted after apply: {where}")

    def _readiness(self) -> Readiness:
        self.raise_on_drift()
        state = self.state
        service = knative.live_service_readiness(
            self.kube, state.require_role("knative_service"), self.desired_env()
        )
        flink_capture = state.require_role("flink_deployment")
        flink = ta.flink_readiness(self.kube.get(flink_capture.ref), ta.restarted_nonce(flink_capture))
        reasons = [f"Knative: {r}" for r in service.reasons] + [f"Flink: {r}" for r in flink.reasons]
        if reasons:
            return Readiness.not_ready(*reasons)
        return Readiness.ok({"knative": dict(service.details), "flink": dict(flink.details)})

    def wait_ready(self) -> dict[str, Any]:
        """Wait for the runtime revision with the run env and for the TA job; record the verified env."""
        kwargs: dict[str, Any] = {}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        verdict = wait_until_ready(
            "simulation runtime",
            self._readiness,
            self.settings.ready_timeout_seconds,
            self.settings.poll_seconds,
            **kwargs,
        )
        return {**dict(verdict.details), "verified_env": redact_env_list(self.desired_env())}

    def teardown(self) -> dict[str, Any]:
        """Restore the runtime objects from state.json; RestoreFailedError (and the marker) if any is left."""
        if not self.paths.state.exists():
            return {"restored": [], "note": "nothing was captured, so nothing was patched"}
        try:
            report = restore_runtime(self.kube, self.state, self.settings.patch_attempts)
        except Exception as exc:  # noqa: BLE001 - any failure must still leave the marker behind
            # Whatever broke, the marker names every captured field and the command that restores it.
            report = unverified_report(self.state, RUNTIME_ROLES, exc)
        remove_run_secret(self.kube, self.state, report)
        raise_if_failed(self.paths, self.state, "teardown", report)
        return report.to_json()

    def restore_argocd(self, mode: Mode | None = None) -> dict[str, Any]:
        """Put Argo CD back in the restore mode (captured values for `previous`)."""
        if not self.paths.state.exists():
            return {"restored": [], "note": "nothing was captured"}
        state = self.state
        if not any(o.role in ARGO_FREEZE_ORDER for o in state.objects):
            return {"restored": [], "note": "Argo CD not managed by this run"}
        chosen: Mode = mode or state.restore_mode_after_run
        try:
            report = restore_argocd(self.argocd, state, chosen, self.settings.patch_attempts)
        except Exception as exc:  # noqa: BLE001 - any failure must still leave the marker behind
            report = unverified_report(state, ARGO_FREEZE_ORDER, exc, chosen)
        raise_if_failed(self.paths, state, "argocd_restore", report)
        return {**report.to_json(), "mode": chosen}

    def release_lock(self) -> dict[str, Any]:
        """Release the runtime lock held by this run and retire its state.json (it has been restored)."""
        self.stop_heartbeat()
        try:
            released = release_lock(self.kube, self.targets.namespace, self.identity)
        except Exception as exc:
            if self.paths.state.exists():
                record_unlock_failure(self.paths, self.state, self.targets.namespace, exc)
            raise
        if self.paths.state.exists():
            update_marker(self.paths, self.state, "unlock", None)
        details: dict[str, Any] = {"lock": "released" if released else "not held"}
        if self.paths.state.exists() and not self.paths.restore_required.exists():
            # A later run with the same id must capture afresh, not reuse this run's (possibly old) baseline.
            retired = self.paths.state_restored
            self.paths.state.replace(retired)
            self._state = None
            details["state_file"] = str(retired)
        return details
