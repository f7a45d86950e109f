"""The node without servers: OCI archive layout, configs, ports, optional registration, image inputs."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import tomllib
from pathlib import Path

import pytest

from torghut_sim.devstack import registry
from torghut_sim.devstack.cli import build_parser
from torghut_sim.devstack.config import Ports
from torghut_sim.devstack.containerd import CNI_CONFIG, containerd_config
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.image_spec import (
    APP_DIR,
    BASE_PACKAGES,
    PROJECT_PATHS,
    image_config,
    project_hash,
)
from torghut_sim.devstack.node_servers import NODE_NAME, kubelet_config
from torghut_sim.devstack.oci import ImageConfig, write_oci_archive

ROOT = Path(__file__).resolve().parents[2]


def _layer(tmp_path: Path, name: str, content: bytes) -> Path:
    payload = tmp_path / name
    payload.write_bytes(content)
    layer = tmp_path / f"{name}.tar"
    with tarfile.open(layer, "w") as archive:
        archive.add(payload, arcname=name)
    return layer


def test_oci_archive_blobs_match_their_digests(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "hello", b"hello world\n")
    out = tmp_path / "image.oci.tar"
    digest = write_oci_archive(out, [layer], ImageConfig(cmd=["/hello"], env={"A": "1"}), "x.test/img:tag")
    with tarfile.open(out) as archive:
        names = set(archive.getnames())
        blobs = {
            n.removeprefix("blobs/sha256/"): archive.extractfile(n).read()  # type: ignore[union-attr]
            for n in names
            if n.startswith("blobs/")
        }
        index = json.loads(archive.extractfile("index.json").read())  # type: ignore[union-attr]
        docker = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    for name, data in blobs.items():
        assert hashlib.sha256(data).hexdigest() == name
    entry = index["manifests"][0]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == "x.test/img:tag"
    manifest = json.loads(blobs[digest.removeprefix("sha256:")])
    config = json.loads(blobs[manifest["config"]["digest"].removeprefix("sha256:")])
    assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
    assert config["config"]["Cmd"] == ["/hello"] and config["config"]["Env"] == ["A=1"]
    assert docker[0]["RepoTags"] == ["x.test/img:tag"]


def test_oci_archive_is_reproducible(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "a", b"same")
    first = write_oci_archive(tmp_path / "one.tar", [layer], ImageConfig(cmd=["x"]), "x.test/a:1")
    second = write_oci_archive(tmp_path / "two.tar", [layer], ImageConfig(cmd=["x"]), "x.test/a:1")
    assert first == second
    assert not list(tmp_path.glob("*.partial"))


def test_image_runs_the_code_location_and_matches_the_dockerfile() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    config = image_config()
    # One definition in two forms: the command, the packages, the paths and the environment agree.
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert json.loads(cmd_line.removeprefix("CMD ")) == config.cmd
    assert config.cmd[:3] == ["dagster", "api", "grpc"] and "torghut_sim.definitions" in config.cmd
    assert " ".join(BASE_PACKAGES) in dockerfile
    assert f"WORKDIR {APP_DIR}" in dockerfile
    for key, value in config.env.items():
        assert f"{key}={value}" in dockerfile
    copied = " ".join(line for line in dockerfile.splitlines() if line.startswith("COPY "))
    for rel in PROJECT_PATHS:
        assert rel in copied


def test_image_hash_follows_project_sources(tmp_path: Path) -> None:
    for rel in PROJECT_PATHS:
        src = ROOT / rel
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            dst.write_bytes(src.read_bytes())
        else:
            dst.mkdir()
            (dst / "f.py").write_text("x = 1\n")
    before = project_hash(tmp_path)
    (tmp_path / "torghut_sim" / "f.py").write_text("x = 2\n")
    assert project_hash(tmp_path) != before
    (tmp_path / "torghut_sim" / "__pycache__").mkdir()
    (tmp_path / "torghut_sim" / "__pycache__" / "f.cpython-311.pyc").write_bytes(b"junk")
    after = project_hash(tmp_path)
    assert project_hash(tmp_path) == after
    (tmp_path / "uv.lock").unlink()
    with pytest.raises(DevstackError) as raised:
        project_hash(tmp_path)
    assert raised.value.reason == "image_source_missing"


def test_containerd_config_is_private_and_restricts_oom_adj(tmp_path: Path) -> None:
    text = containerd_config(tmp_path / "c", tmp_path / "c.sock", tmp_path / "cni")
    doc = tomllib.loads(text)
    assert doc["grpc"]["address"] == str(tmp_path / "c.sock")
    assert doc["root"].startswith(str(tmp_path))
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert CNI_CONFIG["plugins"] == [{"type": "loopback"}]


def test_kubelet_config_is_loopback_cgroupfs_v1(tmp_path: Path) -> None:
    doc = kubelet_config(port=1001, healthz_port=1002, socket=tmp_path / "s.sock")
    assert doc["address"] == "127.0.0.1" and doc["healthzBindAddress"] == "127.0.0.1"
    assert doc["failCgroupV1"] is False and doc["cgroupDriver"] == "cgroupfs"
    assert doc["readOnlyPort"] == 0
    assert doc["containerRuntimeEndpoint"] == f"unix://{tmp_path / 's.sock'}"
    assert NODE_NAME == "localhost"


def test_node_ports_follow_the_api_server_and_can_be_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORGHUT_DEVSTACK_KUBE_PORT", "40000")
    monkeypatch.delenv("TORGHUT_DEVSTACK_KUBELET_PORT", raising=False)
    ports = Ports()
    assert [ports.kubelet, ports.kubelet_healthz, ports.kube_scheduler, ports.kube_controller_manager] == [
        40001,
        40002,
        40003,
        40004,
    ]
    monkeypatch.setenv("TORGHUT_DEVSTACK_KUBELET_PORT", "41000")
    assert Ports().kubelet == 41000


def test_node_is_optional_but_known() -> None:
    assert "node" in registry.SERVICE_CLASSES
    assert "node" not in registry.default_services()
    assert [s.name for s in registry.all_services()] == registry.default_services()
    args = build_parser().parse_args(["up", "node"])
    assert args.services == ["node"]


def test_node_module_pins_the_api_servers_kubernetes() -> None:
    def pinned(path: Path) -> str:
        match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", path.read_text(), re.M)
        assert match, path
        return match.group(1)

    assert pinned(ROOT / "devstack/node/go.mod") == pinned(ROOT / "devstack/kube/go.mod")
