"""Installing Debian packages the stack needs, once, when they are missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import run_checked

_updated = False


def ensure_packages(packages: dict[str, str]) -> None:
    """Install the Debian packages whose marker file (package → path) is missing."""
    global _updated  # noqa: PLW0603 - one `apt-get update` per process is the point
    missing = [pkg for pkg, marker in packages.items() if not Path(marker).exists()]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DevstackError(
            "missing_packages",
            f"Debian packages {', '.join(missing)} are needed; install them with apt-get as root",
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        run_checked(["apt-get", "update", "-qq"], "apt-get update", env=env)
        _updated = True
    run_checked(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        f"apt-get install {' '.join(missing)}",
        env=env,
    )
