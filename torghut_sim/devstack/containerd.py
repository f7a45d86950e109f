"""The node's container runtime: containerd's configuration and process, `ctr`, image import, teardown.

containerd keeps its root, state, socket, pid and log under the node's state directory; its containers
run under limits they may inherit without CAP_SYS_RESOURCE, and only the loopback CNI plugin is
configured (pods run on the host's network).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.image_spec import PAUSE_REF
from torghut_sim.devstack.process import run_checked, spawn, stop_pid, wait_until

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


def limited(argv: list[str]) -> list[str]:
    """`argv` under limits a container may inherit without needing CAP_SYS_RESOURCE to keep them."""
    return [
        "prlimit",
        f"--nofile={CONTAINER_NOFILE}:{CONTAINER_NOFILE}",
        f"--nproc={CONTAINER_NPROC}:{CONTAINER_NPROC}",
        "--",
        *argv,
    ]


@dataclass(frozen=True)
class Containerd:
    """The node's containerd, with everything of it under `state_dir`."""

    state_dir: Path

    @property
    def socket(self) -> Path:
        """containerd's gRPC socket (kept short: unix socket paths have a 108-byte limit)."""
        return self.state_dir / "containerd.sock"

    @property
    def pid_file(self) -> Path:
        """containerd's pid file."""
        return self.state_dir / "containerd.pid"

    @property
    def log_file(self) -> Path:
        """containerd's log."""
        return self.state_dir / "containerd.log"

    def ctr(self, *args: str) -> str:
        """Run `ctr` against this containerd in the Kubernetes namespace; its standard output."""
        done = run_checked(["ctr", "--address", str(self.socket), "-n", "k8s.io", *args], f"ctr {args[0]}")
        return done.stdout

    def healthy(self) -> bool:
        """True when containerd answers `ctr version`."""
        if not self.socket.exists():
            return False
        try:
            self.ctr("version")
        except DevstackError:
            return False
        return True

    def start(self) -> None:
        """Write containerd's and the CNI's configuration and start containerd, unless it answers already."""
        if self.healthy():
            return
        root = self.state_dir / "containerd"
        cni_dir = self.state_dir / "cni"
        cni_dir.mkdir(parents=True, exist_ok=True)
        (cni_dir / "10-devstack-loopback.conflist").write_text(json.dumps(CNI_CONFIG))
        config = self.state_dir / "containerd.toml"
        config.write_text(containerd_config(root, self.socket, cni_dir))
        argv = limited(["containerd", "--config", str(config)])
        spawn("containerd", argv, self.pid_file, self.log_file)
        wait_until("containerd", self.healthy, 60, self.pid_file, self.log_file)

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

    def _shim_pids(self) -> list[int]:
        """The containerd shims serving this containerd (found by its socket on their command line)."""
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
        """End every container, then containerd and the shims left behind; True when containerd ran."""
        if self.healthy():
            # Containers outlive containerd (their shims are their parents): end them through it first.
            for task in self.ctr("tasks", "list", "-q").split():
                with contextlib.suppress(DevstackError):
                    self.ctr("tasks", "kill", "--signal", "SIGKILL", task)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(
                "RUNNING" in line for line in self.ctr("tasks", "list").splitlines()
            ):
                time.sleep(0.5)
        stopped = stop_pid(self.pid_file)
        for pid in self._shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return stopped
