"""The code location's container image, built offline: Debian by mmdebstrap, the locked env by uv, the engine.

What goes in is `torghut_sim.devstack.image_spec`; this module assembles it without a container builder: a
cached Debian root filesystem, a chroot in which uv installs the lock (`torghut_sim.devstack.image_chroot`),
the layers as reproducible tarballs, and an OCI archive that `ctr images import` reads. Also the pause
image of the node: one static Go program.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.image_chroot import uv_sync_in
from torghut_sim.devstack.image_spec import (
    APP_DIR,
    BASE_PACKAGES,
    DAGSTER_HOME,
    DEBIAN_SUITE,
    DEPS_FILES,
    IMAGE_REF,
    PAUSE_REF,
    base_hash,
    deps_hash,
    image_config,
    project_files,
    project_hash,
)
from torghut_sim.devstack.oci import ImageConfig, write_oci_archive
from torghut_sim.devstack.process import run_checked


def _apt_sources() -> str:
    """This machine's Debian sources, so mmdebstrap uses the mirror apt here is configured for."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.is_file():
        return deb822.read_text()
    return (
        f"deb http://deb.debian.org/debian {DEBIAN_SUITE} main\n"
        f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main\n"
    )


def _tar_layer(root: Path, out: Path) -> None:
    """A reproducible layer tarball of a directory tree (sorted, numeric owners, epoch mtimes)."""
    run_checked(
        [
            "tar",
            "--sort=name",
            "--numeric-owner",
            "--mtime=@0",
            "--xattrs",
            "--xattrs-exclude=trusted.overlay.*",
            "-C",
            str(root),
            "-cf",
            str(out),
            ".",
        ],
        f"tar of {root}",
    )


def _refuse_whiteouts(upper: Path) -> None:
    """The project layer only adds and replaces files; a deletion (overlay whiteout) would be lost."""
    for dirpath, dirs, files in os.walk(upper):
        for name in dirs:
            # An opaque directory hides everything below it in the lower layer: also a deletion.
            with contextlib.suppress(OSError):
                if os.getxattr(os.path.join(dirpath, name), "trusted.overlay.opaque") == b"y":
                    raise DevstackError("image_layer_deletes", f"the install replaced {dirpath}/{name}")
        for name in files:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if stat.S_ISCHR(mode):
                raise DevstackError("image_layer_deletes", f"the project install deleted {dirpath}/{name}")


@dataclass(frozen=True)
class ImageBuilder:
    """Builds the project and pause image archives into `work_dir`, reusing what did not change."""

    repo_root: Path
    work_dir: Path

    @property
    def base_tar(self) -> Path:
        """The cached Debian root filesystem."""
        return self.work_dir / f"debian-{DEBIAN_SUITE}-{base_hash()}.tar"

    def archive_path(self) -> Path:
        """The project image archive for the current sources."""
        return self.work_dir / f"torghut-sim-{project_hash(self.repo_root)}.oci.tar"

    @property
    def pause_archive(self) -> Path:
        """The pause image archive."""
        return self.work_dir / "pause.oci.tar"

    def ensure_base(self) -> Path:
        """Debootstrap bookworm (minbase) with the image's packages once; cached by package list."""
        if self.base_tar.is_file():
            return self.base_tar
        ensure_packages({"mmdebstrap": "/usr/bin/mmdebstrap"})
        self.work_dir.mkdir(parents=True, exist_ok=True)
        partial = self.base_tar.with_suffix(".partial.tar")
        run_checked(
            [
                "mmdebstrap",
                "--mode=root",
                "--variant=minbase",
                "--format=tar",
                f"--include={','.join(BASE_PACKAGES)}",
                # Package lists and the apt cache are of no use in a run pod.
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
                DEBIAN_SUITE,
                str(partial),
                "-",
            ],
            "mmdebstrap of the image's Debian root filesystem",
            input=_apt_sources(),
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
        )
        partial.replace(self.base_tar)
        return self.base_tar

    def _build_engine(self, target: Path, go: str) -> None:
        # Static, so it runs on the image's libc whatever the build machine's is.
        run_checked(
            [go, "build", "-trimpath", "-o", str(target), "."],
            "go build of the native Kafka engine",
            cwd=self.repo_root / "native" / "kafka-engine",
            env={**os.environ, "CGO_ENABLED": "0"},
        )

    @property
    def deps_dir(self) -> Path:
        """The dependency stage: Debian plus the locked environment without the project, by lock hash."""
        return self.work_dir / f"deps-{deps_hash(self.repo_root)}"

    def ensure_deps(self) -> Path:
        """Layer 1: the base with `uv sync --no-install-project`; kept unpacked as the project's lower dir."""
        layer = self.deps_dir / "layer.tar"
        if layer.is_file():
            return self.deps_dir
        base = self.ensure_base()
        for stale in self.work_dir.glob("deps-*"):
            subprocess.run(["rm", "-rf", "--one-file-system", str(stale)], check=False)
        rootfs = self.deps_dir / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(base) as archive:
            archive.extractall(rootfs, filter="fully_trusted")
        app = rootfs / APP_DIR.lstrip("/")
        app.mkdir(parents=True, exist_ok=True)
        for name in DEPS_FILES:
            shutil.copy2(self.repo_root / name, app / name)
        # The build backend wants the readme pyproject names; its text is layer 2's business.
        (app / "README.md").write_text("")
        (rootfs / DAGSTER_HOME.lstrip("/")).mkdir(parents=True, exist_ok=True)
        uv_sync_in(rootfs, ["--no-install-project"])
        _tar_layer(rootfs, layer.with_suffix(".partial"))
        layer.with_suffix(".partial").replace(layer)
        return self.deps_dir

    def build(self, go: str) -> Path:
        """Layers 1 (Debian + locked deps) and 2 (the project installed, the engine); cached by inputs."""
        out = self.archive_path()
        if out.is_file():
            return out
        deps = self.ensure_deps()
        scratch = self.work_dir / "scratch"
        if scratch.exists():
            subprocess.run(["umount", "-R", "-l", str(scratch / "merged")], check=False, capture_output=True)
            shutil.rmtree(scratch)
        upper, work, merged = scratch / "upper", scratch / "work", scratch / "merged"
        for path in (upper, work, merged):
            path.mkdir(parents=True)
        try:
            # The project's layer is exactly what the install changes over layer 1: overlayfs's upper dir.
            options = f"lowerdir={deps / 'rootfs'},upperdir={upper},workdir={work}"
            run_checked(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], "overlay mount")
            try:
                app = merged / APP_DIR.lstrip("/")
                for path in project_files(self.repo_root):
                    target = app / path.relative_to(self.repo_root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                uv_sync_in(merged, [])
                self._build_engine(app / ".venv/bin/torghut-kafka-engine", go)
            finally:
                subprocess.run(["umount", "-l", str(merged)], check=False, capture_output=True)
            _refuse_whiteouts(upper)
            layer = scratch / "layer.tar"
            _tar_layer(upper, layer)
            write_oci_archive(out, [deps / "layer.tar", layer], image_config(), IMAGE_REF)
        finally:
            subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)
        for stale in self.work_dir.glob("torghut-sim-*.oci.tar"):
            if stale != out:
                stale.unlink()
        return out

    def build_pause(self, go: str, source_dir: Path) -> Path:
        """The pause image: the static pause program as /pause; rebuilt when its source changes."""
        stamp = self.work_dir / "pause.inputs-sha256"
        wanted = hashlib.sha256(
            b"".join((source_dir / n).read_bytes() for n in ("go.mod", "main.go"))
        ).hexdigest()
        if self.pause_archive.is_file() and stamp.is_file() and stamp.read_text().strip() == wanted:
            return self.pause_archive
        self.work_dir.mkdir(parents=True, exist_ok=True)
        scratch = self.work_dir / "pause-scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        binary = scratch / "pause"
        run_checked(
            [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
            "go build of the pause program",
            cwd=source_dir,
            env={**os.environ, "CGO_ENABLED": "0"},
        )
        layer = scratch / "layer.tar"
        with tarfile.open(layer, "w") as archive:
            info = archive.gettarinfo(str(binary), arcname="pause")
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o755
            with open(binary, "rb") as handle:
                archive.addfile(info, handle)
        write_oci_archive(self.pause_archive, [layer], ImageConfig(cmd=[], entrypoint=["/pause"]), PAUSE_REF)
        stamp.write_text(wanted + "\n")
        shutil.rmtree(scratch, ignore_errors=True)
        return self.pause_archive
