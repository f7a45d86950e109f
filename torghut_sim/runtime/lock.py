"""The runtime lock: `ConfigMap/torghut-historical-simulation-lock`, one simulation at a time per runtime.

Acquired by an atomic create (the server answers 409 when it is held), reused by the same run, released
only by its owner. A lock that looks abandoned is reported with the command that clears it, never taken over.
While its run's process lives, the holder renews `heartbeat_at` (a conditional patch, owner only); the
lock also names the holder's host, pid and run directory, so a sensor can tell a dead holder from a live one
and finish its teardown from that run directory.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import CONFIGMAP, AlreadyExistsError, Kube, KubeApiError, ObjectRef

LOCK_NAME = "torghut-historical-simulation-lock"
LOCK_LABELS = {"app.kubernetes.io/managed-by": "torghut-sim", "torghut-sim/role": "runtime-lock"}
# How long a holder counts as alive without renewing its heartbeat, unless it declares otherwise.
DEFAULT_LEASE_SECONDS = 180


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock, since when, at which resourceVersion."""

    run_id: str
    run_token: str
    dataset_id: str
    owner: str
    acquired_at: datetime
    resource_version: str
    # Renewed by the holder's process while it lives (None: a lock written before heartbeats existed).
    heartbeat_at: datetime | None = None
    # How long the holder may go without renewing and still count as alive.
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    host: str = ""
    pid: int | None = None
    run_dir: str = ""

    def describe(self) -> str:
        """One line naming the holder."""
        since = _iso(self.acquired_at)
        return f"run {self.run_id} (owner {self.owner}, dataset {self.dataset_id}, since {since})"


class LockHeldError(TorghutSimError):
    """Another run holds the lock."""

    reason = "lock_held"

    def __init__(self, holder: LockInfo, message: str | None = None, reason: str | None = None) -> None:
        super().__init__(message or f"the runtime lock is held by {holder.describe()}", reason)
        self.holder = holder


class StaleLockError(LockHeldError):
    """The lock looks abandoned; it is reported with the commands that clear it, never taken."""

    reason = "lock_stale"


class LockNotOwnedError(TorghutSimError):
    """A release was asked by someone other than the holder."""

    reason = "lock_not_owned"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lock_ref(namespace: str) -> ObjectRef:
    """The lock ConfigMap in a runtime namespace."""
    return ObjectRef(CONFIGMAP, namespace, LOCK_NAME)


def _time(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(text: Any, default: int | None) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return default


def parse_lock(obj: dict[str, Any]) -> LockInfo:
    """The holder described by a lock ConfigMap (unparseable times read as the epoch: i.e. old)."""
    data = obj.get("data") or {}
    acquired = _time(data.get("acquired_at", "")) or datetime.fromtimestamp(0, UTC)
    return LockInfo(
        run_id=str(data.get("run_id", "")),
        run_token=str(data.get("run_token", "")),
        dataset_id=str(data.get("dataset_id", "")),
        owner=str(data.get("owner", "")),
        acquired_at=acquired,
        resource_version=str(obj["metadata"]["resourceVersion"]),
        heartbeat_at=_time(data["heartbeat_at"]) if "heartbeat_at" in data else None,
        lease_seconds=_int(data.get("lease_seconds"), DEFAULT_LEASE_SECONDS) or DEFAULT_LEASE_SECONDS,
        host=str(data.get("host", "")),
        pid=_int(data.get("pid"), None),
        run_dir=str(data.get("run_dir", "")),
    )


def read_lock(kube: Kube, namespace: str) -> LockInfo | None:
    """The current holder, or None when the runtime is free."""
    obj = kube.get(lock_ref(namespace))
    return parse_lock(obj) if obj is not None else None


def clear_commands(namespace: str, holder: LockInfo, run_dir_hint: str | None = None) -> list[str]:
    """The commands that clear a stale lock: tear the holder's run down (restore + unlock), or delete."""
    run_dir = run_dir_hint or f"<output_root>/{holder.run_token}"
    return [
        f"torghut-sim teardown --run-dir {run_dir} --kubeconfig <kubeconfig>",
        f"kubectl --namespace {namespace} delete configmap {LOCK_NAME}",
    ]


def acquire_lock(
    kube: Kube,
    namespace: str,
    identity: RunIdentity,
    max_age: timedelta | None = None,
    owner_finished: Callable[[LockInfo], bool] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    run_dir_hint: Callable[[LockInfo], str | None] = lambda _holder: None,
    run_dir: str = "",
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> LockInfo:
    """Take the lock for this run, or reuse it when this run holds it; refuse with the holder named."""
    taken = _iso(now())
    data = {
        "run_id": identity.run_id,
        "run_token": identity.run_token,
        "dataset_id": identity.dataset_id,
        "owner": identity.owner,
        "acquired_at": taken,
        "heartbeat_at": taken,
        "lease_seconds": str(int(lease_seconds)),
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "run_dir": run_dir,
    }
    body = {"metadata": {"labels": LOCK_LABELS}, "data": data}
    holder: LockInfo | None = None
    # A holder that releases between our create and our read gets one more atomic attempt, no more.
    for _attempt in range(2):
        try:
            return parse_lock(kube.create(lock_ref(namespace), body))
        except AlreadyExistsError:
            holder = read_lock(kube, namespace)
        if holder is not None:
            break
    if holder is None:
        raise KubeApiError(f"the runtime lock in {namespace} flickered between create and read; retry")
    if holder.run_id == identity.run_id and holder.owner == identity.owner:
        return holder
    age = now() - holder.acquired_at
    stale_why = None
    if max_age is not None and age > max_age:
        stale_why = f"it is {int(age.total_seconds())}s old (max {int(max_age.total_seconds())}s)"
    elif owner_finished is not None and owner_finished(holder):
        stale_why = "its run has finished"
    if stale_why is not None:
        commands = " ; or ".join(clear_commands(namespace, holder, run_dir_hint(holder)))
        raise StaleLockError(
            holder,
            f"the runtime lock held by {holder.describe()} looks stale: {stale_why}. It is not taken over; "
            f"clear it with: {commands}",
        )
    raise LockHeldError(holder)


def release_lock(kube: Kube, namespace: str, identity: RunIdentity) -> bool:
    """Delete the lock if this run owns it (at the version read); False when no lock was held."""
    holder = read_lock(kube, namespace)
    if holder is None:
        return False
    if holder.run_id != identity.run_id or holder.owner != identity.owner:
        raise LockNotOwnedError(
            f"refusing to release the runtime lock held by {holder.describe()} on behalf of run "
            f"{identity.run_id} (owner {identity.owner})"
        )
    return kube.delete(lock_ref(namespace), resource_version=holder.resource_version)


class LockLostError(TorghutSimError):
    """The lock a run renews is gone or held by another run."""

    reason = "lock_lost"


def renew_lock(
    kube: Kube,
    namespace: str,
    identity: RunIdentity,
    lease_seconds: int | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LockInfo:
    """Renew this run's heartbeat (and this process as its host/pid) at the version read; owner only."""
    holder = read_lock(kube, namespace)
    if holder is None or holder.run_id != identity.run_id or holder.owner != identity.owner:
        held = "nobody" if holder is None else holder.describe()
        raise LockLostError(f"the runtime lock of run {identity.run_id} in {namespace} is held by {held}")
    data = {
        "heartbeat_at": _iso(now()),
        "lease_seconds": str(int(lease_seconds if lease_seconds is not None else holder.lease_seconds)),
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
    }
    # The resourceVersion makes the patch conditional: a release between read and patch is a 409.
    body = {"metadata": {"resourceVersion": holder.resource_version}, "data": data}
    return parse_lock(kube.merge_patch(lock_ref(namespace), body))
