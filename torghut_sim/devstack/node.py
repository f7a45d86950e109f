"""The local stack's Kubernetes node: containerd, kubelet, kube-scheduler and kube-controller-manager.

Optional (`devstack up node`): it joins the stack's API server (started first when needed) as the node
`localhost`, runs only `hostNetwork` pods (no pod network: every address a pod reaches is 127.0.0.1), and
holds two images imported into containerd: the pause image and the code location's image
(`torghut_sim.devstack.image_build`), used with `imagePullPolicy: Never`. containerd and runc come from
Debian (`torghut_sim.devstack.containerd`); the three Kubernetes servers (`torghut_sim.devstack.node_servers`)
are one binary built from `devstack/node/` at the API server's version.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.containerd import Containerd
from torghut_sim.devstack.go_build import GoBinaryService, file_lock, go_binary
from torghut_sim.devstack.image_build import ImageBuilder
from torghut_sim.devstack.image_spec import IMAGE_REF, PAUSE_REF
from torghut_sim.devstack.kube import KubeService
from torghut_sim.devstack.node_servers import NODE_NAME, ServerCommands, kubelet_healthy, secure_healthy
from torghut_sim.devstack.process import read_pid, spawn, stop_pid, wait_until

BINARY_NAME = "node-devstack"
PACKAGES = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/loopback",
    "mmdebstrap": "/usr/bin/mmdebstrap",
    "openssl": "/usr/bin/openssl",
    "util-linux": "/usr/bin/prlimit",
}
# The Kubernetes servers in start order (containerd comes before them).
SERVER_ROLES = ("kubelet", "kube-scheduler", "kube-controller-manager")


class NodeService(GoBinaryService):
    """containerd + kubelet + kube-scheduler + kube-controller-manager joined to the stack's API server."""

    name = "node"
    # One multi-call binary: `kubelet` / `kube-scheduler` / `kube-controller-manager`.
    binary_name = BINARY_NAME

    @property
    def kube(self) -> KubeService:
        """The API server this node registers with."""
        return KubeService(self.config)

    @property
    def source_dir(self) -> Path:
        """The checked-in Go module of the node's servers, and the pause program under `pause/`."""
        return self.config.assets_dir / "node"

    @property
    def images(self) -> ImageBuilder:
        """The builder of the pause and project images, caching under the node's build directory."""
        return ImageBuilder(self.config.assets_dir.parent, self.build_dir / "image")

    @property
    def containerd(self) -> Containerd:
        """The node's container runtime, with its socket, pid and log in the node's state directory."""
        return Containerd(self.state_dir)

    @property
    def socket(self) -> Path:
        """containerd's gRPC socket."""
        return self.containerd.socket

    @property
    def servers(self) -> ServerCommands:
        """The command lines of kubelet, kube-scheduler and kube-controller-manager."""
        return ServerCommands(
            binary=self.binary,
            kube=self.kube,
            state_dir=self.state_dir,
            host=self.config.host,
            ports=self.config.ports,
            socket=self.socket,
        )

    def _pid(self, role: str) -> Path:
        return self.state_dir / f"{role}.pid"

    def _log(self, role: str) -> Path:
        return self.state_dir / f"{role}.log"

    @property
    def pid_file(self) -> Path:
        """The kubelet is the main process."""
        return self._pid("kubelet")

    @property
    def log_file(self) -> Path:
        """The kubelet's log."""
        return self._log("kubelet")

    def pid_files(self) -> dict[str, Path]:
        """Start order: containerd, kubelet, kube-scheduler, kube-controller-manager."""
        return {"containerd": self.containerd.pid_file} | {role: self._pid(role) for role in SERVER_ROLES}

    def endpoints(self) -> dict[str, str]:
        """The node name, containerd's socket, the kubelet's address and the project image."""
        ports = self.config.ports
        return {
            "node": NODE_NAME,
            "containerd": str(self.socket),
            "kubelet": f"https://{self.config.host}:{ports.kubelet}",
            "image": IMAGE_REF,
        }

    # --- install -----------------------------------------------------------------------------------------

    def install(self) -> None:
        """Debian packages, the node binary, the pause and project images; each only when missing/stale."""
        self._install()

    def _install(self) -> tuple[Path, Path]:
        ensure_packages(PACKAGES)
        self._build_binary("kubelet, kube-scheduler and kube-controller-manager")
        with file_lock(self.build_dir / ".image.lock"):
            go = go_binary()
            # The archives built now are the ones imported: sources edited meanwhile wait for the next start.
            return self.images.build_pause(go, self.source_dir / "pause"), self.images.build(go)

    # --- processes ---------------------------------------------------------------------------------------

    def node_ready(self) -> bool:
        """True when the API server shows this node Ready."""
        from kubernetes import client  # noqa: PLC0415 - keeps `devstack status` light

        try:
            with self.kube.api_client() as api:
                node = client.CoreV1Api(api).read_node(NODE_NAME)
        except Exception:  # noqa: BLE001 - any failure (not registered, API down) means not ready
            return False
        conditions = (node.status.conditions if node.status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    def healthy(self) -> bool:
        """containerd answers, the scheduler and controller manager are healthy, and the node is Ready."""
        host, ports = self.config.host, self.config.ports
        return (
            self.containerd.healthy()
            and kubelet_healthy(host, ports.kubelet_healthz)
            and secure_healthy(host, ports.kube_scheduler)
            and secure_healthy(host, ports.kube_controller_manager)
            and self.node_ready()
        )

    def stop(self) -> bool:
        """Stop the servers, every container this node runs, and unmount what the pods mounted."""
        stopped = False
        for role in reversed(SERVER_ROLES):
            stopped = stop_pid(self._pid(role)) or stopped
        stopped = self.containerd.stop() or stopped
        self._unmount_below_state()
        return stopped

    def _unmount_below_state(self) -> None:
        # Overlay roots, projected-token tmpfs and the like would make the state directory unremovable.
        prefix = str(self.state_dir.resolve()) + "/"
        try:
            mounts = Path("/proc/self/mounts").read_text().splitlines()
        except OSError:
            return
        targets = [line.split()[1] for line in mounts if len(line.split()) > 1]
        for target in reversed([t for t in targets if t.startswith(prefix)]):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)

    def start(self) -> None:
        """Start the API server when needed, then containerd (images imported), kubelet, the controllers."""
        pause, image = self._install()
        self.kube.start()
        with file_lock(self.state_dir / ".start.lock"):
            began = time.monotonic()
            self.containerd.start()
            self.containerd.import_image(pause, PAUSE_REF)
            self.containerd.import_image(image, IMAGE_REF)
            imported = time.monotonic()
            servers = self.servers
            commands = {
                "kubelet": servers.kubelet,
                "kube-scheduler": servers.scheduler,
                "kube-controller-manager": servers.controller_manager,
            }
            for role in SERVER_ROLES:
                if read_pid(self._pid(role)) is None:
                    spawn(role, commands[role](), self._pid(role), self._log(role))
            wait_until("kubelet", self.healthy, 180, self._pid("kubelet"), self._log("kubelet"))
            timings = {
                "containerd_and_import_s": round(imported - began, 1),
                "servers_to_ready_s": round(time.monotonic() - imported, 1),
            }
            (self.state_dir / "start-timings.json").write_text(json.dumps(timings) + "\n")
