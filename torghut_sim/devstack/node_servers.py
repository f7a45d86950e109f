"""The node's Kubernetes servers: the kubelet's configuration, the three servers' command lines, their probes.

kubelet, kube-scheduler and kube-controller-manager are one multi-call binary; each joins the stack's API
server through its kubeconfig and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.devstack.config import Ports
from torghut_sim.devstack.kube import KubeService

# The kubelet registers under this name, and the API server reaches it through it (its Hostname
# address, first of kube-apiserver's preferred address types): it resolves to 127.0.0.1.
NODE_NAME = "localhost"


def kubelet_config(*, port: int, healthz_port: int, socket: Path) -> dict[str, Any]:
    """KubeletConfiguration for a cgroup v1, no-systemd, loopback-only node."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "containerRuntimeEndpoint": f"unix://{socket}",
        # This machine has cgroup v1 and no systemd; kubelet 1.35 refuses v1 unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        # The sandbox cannot own per-QoS cgroup trees; each container still gets its limits from runc.
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "protectKernelDefaults": False,
        # Loopback-only and throwaway: the API server's log and exec calls come without client certs.
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
        },
        "authorization": {"mode": "AlwaysAllow"},
        # A shared build machine's disk is not this node's to police: evict only when truly full.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "localStorageCapacityIsolation": False,
        "serializeImagePulls": False,
        "maxPods": 32,
        "registerNode": True,
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "5s",
    }


def kubelet_healthy(host: str, healthz_port: int) -> bool:
    """True when the kubelet's healthz answers ok."""
    url = f"http://{host}:{healthz_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def secure_healthy(host: str, port: int) -> bool:
    """True when the healthz of kube-scheduler or kube-controller-manager (served over TLS) answers ok."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed serving cert of a loopback-only server
    try:
        with urllib.request.urlopen(f"https://{host}:{port}/healthz", timeout=2, context=context) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError, ssl.SSLError):
        return False


@dataclass(frozen=True)
class ServerCommands:
    """The command lines of the node's servers; each writes what it needs under `state_dir`."""

    binary: Path
    kube: KubeService
    state_dir: Path
    host: str
    ports: Ports
    socket: Path

    def kubelet(self) -> list[str]:
        """The kubelet's argv, after writing its configuration file."""
        kubelet_dir = self.state_dir / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "kubelet-config.yaml"
        ports = self.ports
        doc = kubelet_config(port=ports.kubelet, healthz_port=ports.kubelet_healthz, socket=self.socket)
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
        return [
            str(self.binary),
            "kubelet",
            "--config",
            str(config),
            "--kubeconfig",
            str(self.kube.kubeconfig_path),
            "--root-dir",
            str(kubelet_dir),
            "--cert-dir",
            str(self.state_dir / "kubelet-pki"),
            "--hostname-override",
            NODE_NAME,
            "--v",
            "1",
        ]

    def _control_plane(self, server: str, port: int, pki: str, *flags: str) -> list[str]:
        """The argv of kube-scheduler or kube-controller-manager: shared flags, then `flags`."""
        kubeconfig = str(self.kube.kubeconfig_path)
        return [
            str(self.binary),
            server,
            "--kubeconfig",
            kubeconfig,
            "--authentication-kubeconfig",
            kubeconfig,
            "--authorization-kubeconfig",
            kubeconfig,
            "--bind-address",
            self.host,
            "--secure-port",
            str(port),
            "--cert-dir",
            str(self.state_dir / pki),
            *flags,
            "--v",
            "1",
        ]

    def scheduler(self) -> list[str]:
        """kube-scheduler's argv."""
        return self._control_plane(
            "kube-scheduler", self.ports.kube_scheduler, "scheduler-pki", "--leader-elect=false"
        )

    def controller_manager(self) -> list[str]:
        """kube-controller-manager's argv."""
        return self._control_plane(
            "kube-controller-manager",
            self.ports.kube_controller_manager,
            "controller-manager-pki",
            # Signs the token of every service account the pods run as, with the API server's key.
            "--service-account-private-key-file",
            str(self.kube.pki_dir / "sa.key"),
            "--root-ca-file",
            str(self.kube.serving_cert),
            "--use-service-account-credentials=false",
            "--leader-elect=false",
            # Only what runs Jobs and their pods on one node: no node IPAM, no cloud, no bootstrap signing.
            "--controllers",
            "*,-nodeipam,-bootstrapsigner,-tokencleaner,-cloud-node-lifecycle,-service-lb-controller,"
            "-node-route-controller",
        )
