"""The clients runtime control works through: the runtime cluster's Kubernetes API and Argo CD on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torghut_sim.runtime.argocd import ArgoCd
from torghut_sim.runtime.kube_client import Kube


@dataclass(frozen=True)
class RuntimeCluster:
    """One open connection to the runtime's cluster and the Argo CD handle on it; close it when done."""

    kube: Kube
    argocd: ArgoCd

    @classmethod
    def on(cls, kube: Kube) -> RuntimeCluster:
        """The cluster behind an open Kubernetes client, with Argo CD reached through the same client."""
        return cls(kube, ArgoCd(kube))

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> RuntimeCluster:
        """The cluster of a kubeconfig's current context (what the command line opens from its flags)."""
        return cls.on(Kube.from_kubeconfig(kubeconfig))

    def close(self) -> None:
        """Close the Kubernetes client."""
        self.kube.close()

    def __enter__(self) -> RuntimeCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# Opens the runtime's cluster when a run is ready to touch it (after its guards passed).
ClusterOpener = Callable[[], RuntimeCluster]
