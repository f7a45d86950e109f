"""Writing an OCI image archive (with a docker-style manifest beside it) from layer tarballs and a config."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImageConfig:
    """What the container runs: entry point, command, environment, working directory."""

    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def image_config_document(config: ImageConfig, diff_ids: list[str], created: str) -> dict[str, Any]:
    """The OCI image configuration for linux/amd64 with these uncompressed layer digests."""
    inner: dict[str, Any] = {
        "Env": [f"{key}={value}" for key, value in config.env.items()],
        "Cmd": config.cmd,
        "WorkingDir": config.working_dir,
    }
    if config.entrypoint:
        inner["Entrypoint"] = config.entrypoint
    if config.labels:
        inner["Labels"] = config.labels
    return {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created": created, "created_by": "torghut-sim devstack image builder"}],
    }


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def write_oci_archive(out: Path, layers: list[Path], config: ImageConfig, ref: str) -> str:
    """Write `out` (an OCI layout tarball that `ctr images import` reads); returns the manifest digest.

    Layers are uncompressed tarballs, stored as they are: the archive is imported on this machine, so
    compressing gigabytes only to decompress them again costs minutes of CPU and saves nothing.
    """
    diff_ids = [file_sha256(layer) for layer in layers]
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0))
    config_bytes = json.dumps(image_config_document(config, diff_ids, created), sort_keys=True).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": f"sha256:{config_digest}",
            "size": len(config_bytes),
        },
        "layers": [
            {"mediaType": LAYER_MEDIA_TYPE, "digest": f"sha256:{d}", "size": p.stat().st_size}
            for d, p in zip(diff_ids, layers, strict=True)
        ],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": f"sha256:{manifest_digest}",
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": ref,
                    "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    # docker load reads manifest.json; containerd reads index.json; both find the same blobs.
    docker_manifest = [
        {
            "Config": f"blobs/sha256/{config_digest}",
            "RepoTags": [ref],
            "Layers": [f"blobs/sha256/{d}" for d in diff_ids],
        }
    ]
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        _add_bytes(archive, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_bytes(archive, "index.json", json.dumps(index, sort_keys=True).encode())
        _add_bytes(archive, "manifest.json", json.dumps(docker_manifest).encode())
        _add_bytes(archive, f"blobs/sha256/{config_digest}", config_bytes)
        _add_bytes(archive, f"blobs/sha256/{manifest_digest}", manifest_bytes)
        for digest, layer in zip(diff_ids, layers, strict=True):
            info = archive.gettarinfo(str(layer), arcname=f"blobs/sha256/{digest}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(layer, "rb") as handle:
                archive.addfile(info, handle)
    partial.replace(out)
    return f"sha256:{manifest_digest}"
