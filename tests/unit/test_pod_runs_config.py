"""Runs as pods without servers: the launcher config is valid for dagster-k8s, the manifests agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from dagster._config import process_config
from dagster_k8s import K8sRunLauncher

from torghut_sim.devstack.image_spec import GRPC_PORT, IMAGE_REF, image_config
from torghut_sim.devstack.pod_runs import (
    PIPELINE_NAMESPACE,
    POD_KUBECONFIG,
    RUN_RESOURCES,
    SERVICE_ACCOUNT,
    TOKEN_DIR,
    PodRunSettings,
    cluster_objects,
    code_location_deployment,
    instance_document,
    pod_kubeconfig,
    workspace_document,
)

ROOT = Path(__file__).resolve().parents[2]
DAGSTER_DIR = ROOT / "deploy" / "k8s" / "dagster"
SETTINGS = PodRunSettings(
    kube_server="https://127.0.0.1:1",
    postgres_port=2,
    kafka_bootstrap="127.0.0.1:3",
    clickhouse_url="http://127.0.0.1:4",
    dagster_db="dagster_x",
    output_root=Path("/srv/sim"),
    compute_logs=Path("/srv/logs"),
    grpc_port=5,
)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_launcher_config_is_accepted_by_dagster_k8s() -> None:
    config = instance_document(SETTINGS, "/k/config")["run_launcher"]["config"]
    result = process_config(K8sRunLauncher.config_type(), config)
    assert result.success, result.errors
    assert config["job_namespace"] == PIPELINE_NAMESPACE
    assert config["service_account_name"] == SERVICE_ACCOUNT
    assert config["resources"] == RUN_RESOURCES
    assert config["image_pull_policy"] == "Never" and config["job_image"] == IMAGE_REF


def test_every_address_is_loopback() -> None:
    rendered = yaml.safe_dump(
        [
            instance_document(SETTINGS, POD_KUBECONFIG),
            code_location_deployment(SETTINGS),
            workspace_document(5),
        ]
    )
    for word in ("0.0.0.0", "localhost", "svc.cluster"):
        assert word not in rendered
    env = {
        e["name"]: e["value"]
        for e in code_location_deployment(SETTINGS)["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DAGSTER_GRPC_HOST"] == "127.0.0.1"
    assert env["DAGSTER_CURRENT_IMAGE"] == IMAGE_REF


def test_pods_authenticate_as_the_service_account_token() -> None:
    user = pod_kubeconfig("https://127.0.0.1:1")["users"][0]["user"]
    assert user == {"tokenFile": f"{TOKEN_DIR}/token"}
    objects = cluster_objects(SETTINGS, [], {"DAGSTER_PG_PASSWORD": "x"})
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert ("Secret", "torghut-sim-pipeline-secrets") in kinds
    assert ("ConfigMap", "torghut-sim-dagster-instance") in kinds
    instance = yaml.safe_load(next(o for o in objects if o["kind"] == "ConfigMap")["data"]["dagster.yaml"])
    assert instance["run_launcher"]["config"]["kubeconfig_file"] == POD_KUBECONFIG


def test_production_manifests_run_the_image_as_the_pipeline_identity() -> None:
    kustomization = yaml.safe_load((DAGSTER_DIR / "kustomization.yaml").read_text())
    image = kustomization["images"][0]
    pinned = f"{image['newName']}:{image['newTag']}"
    deployments = {}
    for name in kustomization["resources"]:
        for doc in _docs(DAGSTER_DIR / name):
            assert doc["metadata"]["namespace"] == PIPELINE_NAMESPACE
            if doc["kind"] == "Deployment":
                deployments[doc["metadata"]["name"]] = doc
    assert set(deployments) == {"torghut-sim-code-location", "torghut-sim-webserver", "torghut-sim-daemon"}
    for doc in deployments.values():
        spec = doc["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == SERVICE_ACCOUNT
        container = spec["containers"][0]
        assert container["image"] == image["name"]
        assert container["resources"]["limits"] and container["resources"]["requests"]
    code = deployments["torghut-sim-code-location"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in code["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == pinned
    assert env["DAGSTER_GRPC_PORT"] == str(GRPC_PORT) and "command" not in code
    assert image_config().env["DAGSTER_GRPC_PORT"] == str(GRPC_PORT)
    workspace = yaml.safe_load((DAGSTER_DIR / "workspace.yaml").read_text())
    entry = workspace["load_from"][0]["grpc_server"]
    assert entry["host"].startswith("torghut-sim-code-location.") and entry["port"] == GRPC_PORT
