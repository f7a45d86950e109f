"""The local stack's Kubernetes node: containerd, kubelet, kube-scheduler and kube-controller-manager.

Optional (`devstack up node`): it joins the stack's API server (started first when needed) as the node
`localhost`, runs only `hostNetwork` pods (no pod network: every address a pod reaches is 127.0.0.1), and
holds two images imported into containerd: the pause image and the code location's image
(`torghut_sim.devstack.image`), used with `imagePullPolicy: Never`. containerd and runc come from Debian;
the three Kubernetes servers are one binary built from `devstack/node/` at the API server's version.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.go_build import GoBinaryService, file_lock, go_binary
from torghut_sim.devstack.image import IMAGE_REF, PAUSE_REF, ImageBuilder
from torghut_sim.devstack.kube import KubeService
from torghut_sim.devstack.process import read_pid, run_checked, spawn, stop_pid, wait_until

BINARY_NAME = "node-devstack"
# The kubelet registers under this name, and the API server reaches it through it (its Hostname
# address, first of kube-apiserver's preferred address types): it resolves to 127.0.0.1.
NODE_NAME = "localhost"
PACKAGES = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/loopback",
    "mmdebstrap": "/usr/bin/mmdebstrap",
    "openssl": "/usr/bin/openssl",
    "util-linux": "/usr/bin/prlimit",
}
# The sandbox withholds CAP_SYS_RESOURCE: containers may not raise their limits above these.
CONTAINER_NOFILE = 1024
CONTAINER_NPROC = 1024


def containerd_config(state: Path, socket: Path, cni_conf_dir: Path) -> str:
    """containerd 1.6 configuration (version 2): private root and socket, CRI with cgroupfs and no CNI net."""
    return f"""version = 2
root = "{state / "root"}"
state = "{state / "run"}"

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_REF}"
  # Without CAP_SYS_RESOURCE a container's oom_score_adj may not go below containerd's own.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf_dir}"
"""


# Only the loopback plugin: the runtime reports its network ready, and pods run on the host's network.
CNI_CONFIG = {
    "cniVersion": "1.0.0",
    "name": "devstack-loopback",
    "plugins": [{"type": "loopback"}],
}


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
    def socket(self) -> Path:
        """containerd's gRPC socket (kept short: unix socket paths have a 108-byte limit)."""
        return self.state_dir / "containerd.sock"

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
        roles = ("containerd", "kubelet", "kube-scheduler", "kube-controller-manager")
        return {role: self._pid(role) for role in roles}

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

    def _limited(self, argv: list[str]) -> list[str]:
        # Runs under limits a container may inherit without needing CAP_SYS_RESOURCE to keep them.
        return [
            "prlimit",
            f"--nofile={CONTAINER_NOFILE}:{CONTAINER_NOFILE}",
            f"--nproc={CONTAINER_NPROC}:{CONTAINER_NPROC}",
            "--",
            *argv,
        ]

    def ctr(self, *args: str) -> str:
        """Run `ctr` against this node's containerd in the Kubernetes namespace; its standard output."""
        done = run_checked(["ctr", "--address", str(self.socket), "-n", "k8s.io", *args], f"ctr {args[0]}")
        return done.stdout

    def containerd_healthy(self) -> bool:
        """True when containerd answers `ctr version`."""
        if not self.socket.exists():
            return False
        try:
            self.ctr("version")
        except DevstackError:
            return False
        return True

    def _start_containerd(self) -> None:
        if self.containerd_healthy():
            return
        root = self.state_dir / "containerd"
        cni_dir = self.state_dir / "cni"
        cni_dir.mkdir(parents=True, exist_ok=True)
        (cni_dir / "10-devstack-loopback.conflist").write_text(json.dumps(CNI_CONFIG))
        config = self.state_dir / "containerd.toml"
        config.write_text(containerd_config(root, self.socket, cni_dir))
        argv = self._limited(["containerd", "--config", str(config)])
        spawn("containerd", argv, self._pid("containerd"), self._log("containerd"))
        wait_until(
            "containerd", self.containerd_healthy, 60, self._pid("containerd"), self._log("containerd")
        )

    def import_image(self, archive: Path, ref: str) -> None:
        """Import an image archive into containerd unless this exact archive was imported already."""
        marker = self.state_dir / f"imported-{ref.rsplit('/', 1)[-1].replace(':', '_')}"
        if marker.is_file() and marker.read_text().strip() == archive.name and ref in self._image_refs():
            return
        # Unpacked into the CRI's snapshotter on import, so the first pod does not pay for it.
        self.ctr("images", "import", "--snapshotter", "overlayfs", str(archive))
        marker.write_text(archive.name + "\n")

    def _image_refs(self) -> set[str]:
        return set(self.ctr("images", "list", "-q").split())

    def kubelet_healthy(self) -> bool:
        """True when the kubelet's healthz answers ok."""
        url = f"http://{self.config.host}:{self.config.ports.kubelet_healthz}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _secure_healthy(self, port: int) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # self-signed serving cert of a loopback-only server
        try:
            with urllib.request.urlopen(
                f"https://{self.config.host}:{port}/healthz", timeout=2, context=context
            ) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False

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
        ports = self.config.ports
        return (
            self.containerd_healthy()
            and self.kubelet_healthy()
            and self._secure_healthy(ports.kube_scheduler)
            and self._secure_healthy(ports.kube_controller_manager)
            and self.node_ready()
        )

    def _kubelet_argv(self) -> list[str]:
        kubelet_dir = self.state_dir / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "kubelet-config.yaml"
        ports = self.config.ports
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

    def _control_plane_argv(self, server: str, port: int, pki: str, *flags: str) -> list[str]:
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
            self.config.host,
            "--secure-port",
            str(port),
            "--cert-dir",
            str(self.state_dir / pki),
            *flags,
            "--v",
            "1",
        ]

    def _scheduler_argv(self) -> list[str]:
        return self._control_plane_argv(
            "kube-scheduler", self.config.ports.kube_scheduler, "scheduler-pki", "--leader-elect=false"
        )

    def _controller_manager_argv(self) -> list[str]:
        return self._control_plane_argv(
            "kube-controller-manager",
            self.config.ports.kube_controller_manager,
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

    def _shim_pids(self) -> list[int]:
        """The containerd shims serving this node's containerd (found by its socket on their command line)."""
        pids = []
        needle = str(self.socket).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> bool:
        """Stop the servers, every container this node runs, and unmount what the pods mounted."""
        pid_files = self.pid_files()
        stopped = False
        for role in ("kube-controller-manager", "kube-scheduler", "kubelet"):
            stopped = stop_pid(pid_files[role]) or stopped
        if self.containerd_healthy():
            # Containers outlive containerd (their shims are their parents): end them through it first.
            for task in self.ctr("tasks", "list", "-q").split():
                with contextlib.suppress(DevstackError):
                    self.ctr("tasks", "kill", "--signal", "SIGKILL", task)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(
                "RUNNING" in line for line in self.ctr("tasks", "list").splitlines()
            ):
                time.sleep(0.5)
        stopped = stop_pid(pid_files["containerd"]) or stopped
        for pid in self._shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
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
            self._start_containerd()
            self.import_image(pause, PAUSE_REF)
            self.import_image(image, IMAGE_REF)
            imported = time.monotonic()
            if read_pid(self._pid("kubelet")) is None:
                spawn("kubelet", self._kubelet_argv(), self._pid("kubelet"), self._log("kubelet"))
            if read_pid(self._pid("kube-scheduler")) is None:
                spawn(
                    "kube-scheduler",
                    self._scheduler_argv(),
                    self._pid("kube-scheduler"),
                    self._log("kube-scheduler"),
                )
            if read_pid(self._pid("kube-controller-manager")) is None:
                spawn(
                    "kube-controller-manager",
                    self._controller_manager_argv(),
                    self._pid("kube-controller-manager"),
                    self._log("kube-controller-manager"),
                )
            wait_until("kubelet", self.healthy, 180, self._pid("kubelet"), self._log("kubelet"))
            timings = {
                "containerd_and_import_s": round(imported - began, 1),
                "servers_to_ready_s": round(time.monotonic() - imported, 1),
            }
            (self.state_dir / "start-timings.json").write_text(json.dumps(timings) + "\n")
