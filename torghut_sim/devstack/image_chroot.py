"""The locked environment installed inside the image's root filesystem: `uv sync` in a chroot.

The build machine's uv, CA bundle, uv cache, DNS and proxy settings are lent to the install and leave
nothing behind in the image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.image_spec import APP_DIR
from torghut_sim.devstack.process import run_checked


def uv_binary() -> Path:
    """The uv executable itself (not a version-manager shim), copied into the chroot to install the lock."""
    found = shutil.which("uv")
    if found is None:
        raise DevstackError("uv_missing", "uv is needed to build the image; run scripts/bootstrap.sh")
    path = Path(found).resolve()
    with open(path, "rb") as handle:
        if handle.read(4) == b"\x7fELF":
            return path
    # A shim script (pyenv) resolves to the real binary through its manager.
    pyenv = shutil.which("pyenv")
    if pyenv:
        done = subprocess.run([pyenv, "which", "uv"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    raise DevstackError("uv_missing", f"{found} is not the uv executable and could not be resolved")


def _host_ca_bundle() -> Path:
    """The CA bundle this machine's clients trust."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise DevstackError("ca_bundle_missing", "no CA bundle to reach the package index with")


def _proxy_env() -> dict[str, str]:
    """Proxy settings of this machine, passed on to the install in the chroot."""
    names = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")
    return {name: os.environ[name] for name in names if name in os.environ}


def uv_sync_in(rootfs: Path, extra: list[str]) -> None:
    """`uv sync --frozen --no-dev` of /opt/torghut-sim inside a chroot of `rootfs`.

    /proc, /dev, the host's DNS, CA bundle, uv and uv cache are bound in for the install only (under
    existing empty mount points), so nothing of the build machine stays in the image.
    """
    tools = Path(tempfile.mkdtemp(prefix="torghut-image-tools-"))
    shutil.copy2(uv_binary(), tools / "uv")
    shutil.copy2(_host_ca_bundle(), tools / "ca.crt")
    host_cache = Path(os.environ.get("UV_CACHE_DIR", Path.home() / ".cache" / "uv"))
    host_cache.mkdir(parents=True, exist_ok=True)
    binds = [
        ("/proc", rootfs / "proc", "--rbind"),
        ("/dev", rootfs / "dev", "--rbind"),
        (str(tools), rootfs / "mnt", "--bind"),
        (str(host_cache), rootfs / "srv", "--bind"),
        ("/etc/resolv.conf", rootfs / "etc/resolv.conf", "--bind"),
    ]
    mounted: list[Path] = []
    try:
        for source, target, how in binds:
            if not target.exists():
                target.touch() if Path(source).is_file() else target.mkdir(parents=True)
            run_checked(["mount", how, source, str(target)], f"bind {source}")
            mounted.append(target)
        run_checked(
            [
                "/usr/sbin/chroot",
                str(rootfs),
                "/mnt/uv",
                "sync",
                "--frozen",
                "--no-dev",
                "--no-editable",
                "--compile-bytecode",
                "--python",
                "/usr/bin/python3.11",
                "--directory",
                APP_DIR,
                *extra,
            ],
            "uv sync of the locked environment in the image",
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": "/root",
                "UV_CACHE_DIR": "/srv",
                # The cache is another filesystem seen through a bind mount.
                "UV_LINK_MODE": "copy",
                "UV_PYTHON_DOWNLOADS": "never",
                # The package index is reached as this machine reaches it (its CA bundle may hold an
                # egress proxy's authority).
                "SSL_CERT_FILE": "/mnt/ca.crt",
                **_proxy_env(),
            },
        )
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-R", "-l", str(target)], check=False, capture_output=True)
        shutil.rmtree(tools, ignore_errors=True)
