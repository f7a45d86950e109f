"""The clients runtime control works through: the runtime cluster's Kubernetes API and Argo CD on it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from torghut_sim.runtime.argocd import ArgoCd
from torghut_sim.runtime.kube_client import Kube


class RuntimeCluster(AbstractContextManager["RuntimeCluster"]):
    """One open connection to the runtime's cluster and the Argo CD handle on it; close it when done."""

    def __init__(self, kube: Kube, argocd: ArgoCd | None = None) -> None:
        self.kube = kube
        # Argo CD through the same client, unless the caller (a resource, a test) hands in its own handle.
        self.argocd = argocd or ArgoCd(kube)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> RuntimeCluster:
        """The cluster of a kubeconfig's current context (what the command line opens from its flags)."""
        return cls(Kube.from_kubeconfig(kubeconfig))

    def close(self) -> None:
        """Close the Kubernetes client."""
        self.kube.close()

    def __exit__(self, *_exc: object) -> None:
        self.close()


# Opens the runtime's cluster when a run is ready to touch it (after its guards passed).
ClusterOpener = Callable[[], RuntimeCluster]
