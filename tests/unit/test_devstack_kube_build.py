"""The kube build inputs: pinned versions agree, the rebuild hash follows the inputs, CRDs are well-formed."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest

from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.go_build import KUBERNETES_VERSION, build_inputs_hash
from torghut_sim.devstack.kube import ETCD_VERSION, KubeService
from torghut_sim.devstack.kube_objects import crd_documents, render_kubeconfig, token_file_line

SOURCE = Path(__file__).resolve().parents[2] / "devstack" / "kube"
STAGING_MODULES = {
    "api",
    "apiextensions-apiserver",
    "apimachinery",
    "apiserver",
    "client-go",
    "component-base",
    "kube-aggregator",
    "kms",
    "externaljwt",
}


def _go_mod() -> str:
    return (SOURCE / "go.mod").read_text()


def test_go_mod_pins_kubernetes_and_its_staging_modules_to_one_release() -> None:
    go_mod = _go_mod()
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(KUBERNETES_VERSION)}$", go_mod, re.M)
    staging = "v0." + KUBERNETES_VERSION.split(".", 1)[1]
    replaced = dict(re.findall(r"^\s*k8s\.io/([\w-]+) => k8s\.io/[\w-]+ (\S+)$", go_mod, re.M))
    assert replaced.keys() >= STAGING_MODULES
    assert set(replaced.values()) == {staging}


def test_go_mod_etcd_server_matches_the_declared_etcd_version() -> None:
    assert re.search(rf"^\s*go\.etcd\.io/etcd/server/v3 {re.escape(ETCD_VERSION)}\b", _go_mod(), re.M)
    assert f"go.etcd.io/etcd/server/v3 {ETCD_VERSION} h1:" in (SOURCE / "go.sum").read_text()


def test_build_hash_changes_with_each_input(tmp_path: Path) -> None:
    for name in ("go.mod", "go.sum", "main.go"):
        shutil.copy(SOURCE / name, tmp_path / name)
    before = build_inputs_hash(tmp_path)
    assert build_inputs_hash(tmp_path) == before
    for name in ("go.mod", "go.sum", "main.go"):
        original = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(original + b"\n")
        assert build_inputs_hash(tmp_path) != before, name
        (tmp_path / name).write_bytes(original)
    assert build_inputs_hash(tmp_path) == before


def test_build_hash_refuses_a_missing_input(tmp_path: Path) -> None:
    shutil.copy(SOURCE / "go.mod", tmp_path / "go.mod")
    with pytest.raises(DevstackError) as err:
        build_inputs_hash(tmp_path)
    assert err.value.reason == "kube_source_missing"


def test_build_needed_follows_binary_and_stamp(tmp_path: Path) -> None:
    svc = KubeService(StackConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"))
    assert svc.build_needed()
    svc.binary.write_bytes(b"\x7fELF")
    assert svc.build_needed()
    svc.stamp_file.write_text(build_inputs_hash(svc.source_dir) + "\n")
    assert not svc.build_needed()
    svc.stamp_file.write_text("0" * 64)
    assert svc.build_needed()


def test_crds_cover_the_pipeline_kinds_with_status_subresources() -> None:
    docs = {d["metadata"]["name"]: d for d in crd_documents(SOURCE / "crds")}
    assert set(docs) == {
        "applications.argoproj.io",
        "applicationsets.argoproj.io",
        "services.serving.knative.dev",
        "flinkdeployments.flink.apache.org",
    }
    ksvc = docs["services.serving.knative.dev"]["spec"]
    assert ksvc["names"]["kind"] == "Service"
    assert "ksvc" in ksvc["names"]["shortNames"]
    assert ksvc["versions"][0]["name"] == "v1"
    for name in ("services.serving.knative.dev", "flinkdeployments.flink.apache.org"):
        assert docs[name]["spec"]["versions"][0]["subresources"] == {"status": {}}
    flink = docs["flinkdeployments.flink.apache.org"]["spec"]
    assert (flink["group"], flink["versions"][0]["name"]) == ("flink.apache.org", "v1beta1")


def test_kubeconfig_carries_server_ca_and_token() -> None:
    doc = render_kubeconfig("https://127.0.0.1:56443", b"PEM", "tok")
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:56443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM"
    assert doc["users"][0]["user"] == {"token": "tok"}
    assert doc["current-context"] == doc["contexts"][0]["name"]


def test_admin_token_line_is_in_system_masters() -> None:
    fields = token_file_line("abc").strip().split(",")
    assert fields == ["abc", "devstack-admin", "devstack-admin", "system:masters"]


def test_pid_files_are_etcd_then_apiserver(tmp_path: Path) -> None:
    svc = KubeService(StackConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"))
    assert list(svc.pid_files()) == ["etcd", "kube-apiserver"]
    assert svc.endpoints()["kubeconfig"] == str(tmp_path / "state" / "kube" / "kubeconfig")


def test_api_client_before_start_is_a_stable_error(tmp_path: Path) -> None:
    svc = KubeService(StackConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"))
    with pytest.raises(DevstackError) as err:
        svc.api_client()
    assert err.value.reason == "kube_not_started"
    assert not svc.healthy()
