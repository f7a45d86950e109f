"""`torghut-sim apply` against the real API server: production targets are refused and nothing changes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from torghut_sim.runtime.kube_client import CONFIGMAP, KNATIVE_SERVICE, Kube, ObjectRef
from torghut_sim.runtime.lock import read_lock

PROD_DSN = "postgresql://torghut:pw-never-shown-7c2@127.0.0.1:55432/torghut"
SIM_DSN = "postgresql://torghut:pw-never-shown-7c2@127.0.0.1:55432/torghut_sim_sim_20260306_01"


@pytest.fixture
def runtime_ns(kube_service: Any, upstream_dir: Path, unique_name: str) -> Iterator[tuple[Kube, str]]:
    """A fresh runtime namespace holding the real TA ConfigMap and Knative Service of the deployment."""
    kube = Kube.from_kubeconfig(Path(kube_service.kubeconfig_path))
    namespace = unique_name.replace("_", "-")[:50]
    client.CoreV1Api(kube.api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    for resource, name in (
        (CONFIGMAP, "ta-sim-configmap.yaml"),
        (KNATIVE_SERVICE, "knative-service-torghut-sim.yaml"),
    ):
        doc = yaml.safe_load((upstream_dir / "gitops" / name).read_text())
        body = {k: v for k, v in doc.items() if k not in ("status", "apiVersion", "kind")}
        body["metadata"] = {k: v for k, v in doc["metadata"].items() if k != "namespace"}
        kube.create(ObjectRef(resource, namespace, doc["metadata"]["name"]), body)
    try:
        yield kube, namespace
    finally:
        kube.close()


def _objects(kube: Kube, namespace: str) -> dict[str, Any]:
    return {
        "ta": copy.deepcopy(
            kube.require(ObjectRef(CONFIGMAP, namespace, "torghut-ta-sim-config")).get("data")
        ),
        "ksvc": copy.deepcopy(kube.require(ObjectRef(KNATIVE_SERVICE, namespace, "torghut-sim")).get("spec")),
    }


@pytest.mark.parametrize(
    ("database", "dsn", "service", "reason"),
    [
        ("torghut", PROD_DSN, "torghut-sim", "production_database"),  # the probe of issue 15 #1
        ("torghut_sim_sim_20260306_01", PROD_DSN, "torghut-sim", "production_database"),
        ("torghut_sim_sim_20260306_01", SIM_DSN, "torghut", "production_runtime_service"),
    ],
)
def test_apply_with_a_production_target_changes_nothing_on_the_cluster(
    kube_service: Any,
    runtime_ns: tuple[Kube, str],
    tmp_path: Path,
    database: str,
    dsn: str,
    service: str,
    reason: str,
) -> None:
    kube, namespace = runtime_ns
    before = _objects(kube, namespace)
    run_dir = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "torghut_sim.cli",
        "apply",
        "--kubeconfig",
        str(kube_service.kubeconfig_path),
        "--run-dir",
        str(run_dir),
        "--run-id",
        "sim-20260306-01",
        "--run-token",
        "sim_20260306_01",
        "--dataset-id",
        "torghut-trades-20260306",
        "--namespace",
        namespace,
        "--no-argocd",
        "--torghut-service",
        service,
        "--window-start",
        "2026-03-06T14:30:00Z",
        "--window-end",
        "2026-03-06T21:00:00Z",
        "--simulation-database",
        database,
        "--clickhouse-url",
        "http://127.0.0.1:58123",
    ]
    proc = subprocess.run(
        argv,
        check=False,
        env={**os.environ, "TORGHUT_SIM_DB_DSN": dsn},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"[{reason}] apply refused:" in lines[0], proc.stderr
    assert "pw-never-shown" not in proc.stderr + proc.stdout
    assert _objects(kube, namespace) == before
    assert read_lock(kube, namespace) is None
    assert not run_dir.exists()
