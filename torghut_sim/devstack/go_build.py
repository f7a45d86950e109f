"""Servers built from checked-in Go modules: the build into the shared cache, rebuilt when its inputs move."""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import run_checked
from torghut_sim.devstack.service import Service

# The Kubernetes release the checked-in Go modules pin; stamped into every binary's version.
KUBERNETES_VERSION = "v1.35.4"
_GO_FALLBACK = Path("/usr/local/go/bin/go")
# Build inputs whose change triggers a rebuild; the ldflags below are hashed with them.
_BUILD_INPUTS = ("go.mod", "go.sum", "main.go")
_MAJOR, _MINOR, _PATCH = KUBERNETES_VERSION.removeprefix("v").split(".")
_LDFLAGS = " ".join(
    [
        "-s",
        "-w",
        f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
        f"-X k8s.io/component-base/version.gitMajor={_MAJOR}",
        f"-X k8s.io/component-base/version.gitMinor={_MINOR}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
    ]
)


def build_inputs_hash(source_dir: Path) -> str:
    """SHA-256 over the Go module's build inputs and the link flags; the binary is rebuilt when it moves."""
    digest = hashlib.sha256(_LDFLAGS.encode())
    for name in _BUILD_INPUTS:
        path = source_dir / name
        if not path.is_file():
            raise DevstackError("kube_source_missing", f"build input {path} is missing")
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def go_binary() -> str:
    """The `go` tool: from PATH, else the standard /usr/local/go install."""
    found = shutil.which("go")
    if found:
        return found
    if _GO_FALLBACK.is_file():
        return str(_GO_FALLBACK)
    raise DevstackError("go_missing", "the Go toolchain is needed to build kube-apiserver; install Go ≥1.25")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent starts (test workers, CLI) build and set up once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GoBinaryService(Service):
    """A server whose multi-call binary is built from a checked-in Go module into the build cache."""

    binary_name: str = ""

    @property
    @abc.abstractmethod
    def source_dir(self) -> Path:
        """The checked-in Go module the binary is built from."""

    @property
    def binary(self) -> Path:
        """The built multi-call binary in the persistent build cache."""
        return self.build_dir / self.binary_name

    @property
    def stamp_file(self) -> Path:
        """The hash of the build inputs the cached binary was built from."""
        return self.build_dir / f"{self.binary_name}.inputs-sha256"

    def build_needed(self) -> bool:
        """True when the cached binary is missing or was built from other inputs."""
        if not self.binary.is_file():
            return True
        try:
            return self.stamp_file.read_text().strip() != build_inputs_hash(self.source_dir)
        except OSError:
            return True

    def _build_binary(self, what: str) -> None:
        """`go build` the binary when missing or stale, once across concurrent starts; `what` names it."""
        if not self.build_needed():
            return
        with file_lock(self.build_dir / ".build.lock"):
            if not self.build_needed():
                return
            wanted = build_inputs_hash(self.source_dir)
            go = go_binary()
            partial = self.binary.with_suffix(".partial")
            env = {
                **os.environ,
                # go.sum is checked in; -mod=mod lets a fresh module cache fetch what go.sum pins.
                "GOFLAGS": "-mod=mod",
                "CGO_ENABLED": "0",
                "PATH": f"{Path(go).parent}:{os.environ.get('PATH', '')}",
            }
            run_checked(
                [go, "build", "-ldflags", _LDFLAGS, "-o", str(partial), "."],
                f"go build of {what}",
                cwd=self.source_dir,
                env=env,
            )
            partial.replace(self.binary)
            self.stamp_file.write_text(wanted + "\n")
