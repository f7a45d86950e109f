"""What goes into the code location's image, and what identifies it: refs, paths, packages, config, hashes.

The same content as the repository's `Dockerfile` (Debian bookworm, its Python 3.11, the `uv.lock`
environment without dev tools at /opt/torghut-sim/.venv, the project installed into it, the native Kafka
engine beside the interpreter); `torghut_sim.devstack.image_build` assembles it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.oci import ImageConfig

IMAGE_REF = "docker.io/library/torghut-sim:devstack"
PAUSE_REF = "docker.io/library/torghut-sim-pause:devstack"
APP_DIR = "/opt/torghut-sim"
DAGSTER_HOME = "/opt/dagster/dagster_home"
DEBIAN_SUITE = "bookworm"
# Debian packages of the image; the Dockerfile installs the same list.
BASE_PACKAGES = ("python3.11", "ca-certificates", "tzdata", "libstdc++6")
# What of the repository goes into the image (the Dockerfile copies the same paths).
PROJECT_PATHS = (
    "pyproject.toml",
    "uv.lock",
    "README.md",
    "workspace.yaml",
    "torghut_sim",
    "assets",
    "resources",
    "sensors",
    "config",
    "native/kafka-engine",
)
# Layer 1 (the dependencies) is rebuilt only when these change.
DEPS_FILES = ("pyproject.toml", "uv.lock")
GRPC_PORT = 3030
_SKIP = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_PATH = "/opt/torghut-sim/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def image_config() -> ImageConfig:
    """Entry point and environment: `dagster api grpc` serving `torghut_sim.definitions` (port from env)."""
    return ImageConfig(
        cmd=[
            "dagster",
            "api",
            "grpc",
            "--module-name",
            "torghut_sim.definitions",
            "--attribute",
            "defs",
        ],
        env={
            "PATH": _PATH,
            "VIRTUAL_ENV": f"{APP_DIR}/.venv",
            "DAGSTER_HOME": DAGSTER_HOME,
            # `dagster api grpc` reads its port (and host, default localhost) from the environment.
            "DAGSTER_GRPC_PORT": str(GRPC_PORT),
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        },
        working_dir=APP_DIR,
        labels={"org.opencontainers.image.title": "torghut-sim"},
    )


def project_files(repo_root: Path) -> Iterator[Path]:
    """Every file of the repository that goes into the image, in a stable order."""
    for rel in PROJECT_PATHS:
        path = repo_root / rel
        if path.is_file():
            yield path
            continue
        if not path.is_dir():
            raise DevstackError("image_source_missing", f"image input {path} is missing")
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
            for name in sorted(filenames):
                if not name.endswith(".pyc"):
                    yield Path(dirpath) / name


def base_hash() -> str:
    """Identifies the Debian root filesystem: suite and package list."""
    return hashlib.sha256(f"{DEBIAN_SUITE}\0{' '.join(BASE_PACKAGES)}".encode()).hexdigest()[:16]


def deps_hash(repo_root: Path) -> str:
    """Identifies layer 1: the base and the lock (with the project metadata uv reads beside it)."""
    digest = hashlib.sha256(base_hash().encode())
    for name in DEPS_FILES:
        digest.update(name.encode() + b"\0" + (repo_root / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def project_hash(repo_root: Path) -> str:
    """Identifies the image: the base, every project file that goes in, and the image config."""
    digest = hashlib.sha256(base_hash().encode() + repr(image_config()).encode())
    for path in project_files(repo_root):
        digest.update(str(path.relative_to(repo_root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
