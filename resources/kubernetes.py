"""The runtime's cluster: its Kubernetes API (kubeconfig, namespace) and Argo CD on it."""

from pathlib import Path
from typing import Any

import dagster as dg

from torghut_sim.runtime.cluster import RuntimeCluster
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


class ArgoCdResource(dg.ConfigurableResource["ArgoCdResource"]):
    """Argo CD on the runtime's cluster: hands out the Kubernetes client with the Argo CD handle on it."""

    # Argo CD's objects are reached through the code location's own `kubernetes` resource (nested, see
    # `cluster_resources`), so a run's whole runtime control comes from this one resource a test can swap.
    kubernetes: dg.ResourceDependency[KubernetesResource]

    def cluster(self) -> RuntimeCluster:
        """Open the runtime's cluster: its Kubernetes client and Argo CD on it (close it when done)."""
        return RuntimeCluster(self.kubernetes.client())


def cluster_resources(kubeconfig: str, namespace: str) -> dict[str, Any]:
    """The `kubernetes` and `argocd` resources of a deployment, Argo CD's nested on the top-level one."""
    # Bound as a partial resource with all its config given here: Argo CD's reference then resolves to the
    # very instance initialized under `kubernetes` (a fully configured nested resource is initialized a
    # second time, down a Dagster path that raises a DeprecationWarning).
    kubernetes = KubernetesResource.configure_at_launch(kubeconfig=kubeconfig, namespace=namespace)
    return {"kubernetes": kubernetes, "argocd": ArgoCdResource(kubernetes=kubernetes)}
