"""The lock heartbeat: a background thread that renews the run lock's `heartbeat_at` while the process lives.

A process killed with SIGKILL stops renewing, which is how a sensor tells a dead holder from a live one.
The thread has its own API client (the main thread's may be mid-request) and never raises: a failed renewal
is logged and retried on the next beat, because a lapse only makes the lock look dead, never wrong.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import LockLostError, renew_lock

log = logging.getLogger(__name__)


class LockHeartbeat:
    """Renews the lock of `identity` in `namespace` every `interval_seconds` until stopped."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        identity: RunIdentity,
        interval_seconds: float,
        lease_seconds: int,
    ) -> None:
        self._configuration: Any = getattr(kube.api_client, "configuration", None)
        self.namespace = namespace
        self.identity = identity
        self.interval_seconds = interval_seconds
        self.lease_seconds = lease_seconds
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the renewing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start renewing (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"lock-heartbeat-{self.identity.run_token}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and wait for the thread (a renewal in flight finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def _loop(self) -> None:
        # Imported when a heartbeat starts: commands that never hold the lock skip the client's import.
        from kubernetes import client as kube_client_module  # noqa: PLC0415

        kube = Kube(kube_client_module.ApiClient(self._configuration))
        try:
            while not self._stop.wait(self.interval_seconds):
                self.beat(kube)
        finally:
            kube.close()

    def beat(self, kube: Kube) -> bool:
        """One renewal; False (logged) when it failed."""
        try:
            renew_lock(kube, self.namespace, self.identity, self.lease_seconds)
        except LockLostError as exc:
            log.warning("lock heartbeat: %s", exc.message)
            return False
        except TorghutSimError as exc:
            log.warning("lock heartbeat failed (retried next beat): %s", exc.message)
            return False
        except Exception as exc:  # noqa: BLE001 - a network error must not end the heartbeat thread
            log.warning("lock heartbeat failed (retried next beat): %s", type(exc).__name__)
            return False
        self.beats += 1
        return True
