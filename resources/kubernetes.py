"""The Kubernetes cluster of the simulation runtime: which kubeconfig reaches it and in which namespace."""

from pathlib import Path

import dagster as dg

from torghut_sim.runtime.kube_client import Kube


class KubernetesResource(dg.ConfigurableResource["KubernetesResource"]):
    """The cluster whose runtime the simulation patches and restores, reached through a kubeconfig file."""

    kubeconfig: str
    namespace: str = "torghut"

    @property
    def kubeconfig_path(self) -> Path:
        """The kubeconfig file (a path, never its contents)."""
        return Path(self.kubeconfig).expanduser()

    def client(self) -> Kube:
        """A client for the kubeconfig's current context; close it (it is a context manager)."""
        return Kube.from_kubeconfig(self.kubeconfig_path)
