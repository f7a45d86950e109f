"""deploy/k8s: every manifest parses, no secret values, least-privilege RBAC that matches what the runtime
code touches, and a Dagster instance config that dagster and dagster-k8s accept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import QueuedRunCoordinator
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher
from deploy_render import DEPLOY, render
from kubernetes.client import Configuration

from resources import runtime_pool
from torghut_sim.runtime.inputs import RuntimeTargets
from torghut_sim.runtime.kube_client import (
    APPLICATION,
    APPLICATIONSET,
    CONFIGMAP,
    FLINK_DEPLOYMENT,
    KNATIVE_REVISION,
    KNATIVE_SERVICE,
    SECRET,
    Resource,
)
from torghut_sim.runtime.lock import LOCK_NAME
from torghut_sim.runtime.run_secret import RUN_SECRET_NAME

NOT_OBJECTS = {"kustomization.yaml", "dagster-instance.yaml"}
SA = "torghut-sim-pipeline"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return list(render.render())


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _launcher_schema() -> Any:
    """The config schema K8sRunLauncher validates its instance config against (dagster-k8s is untyped)."""
    return K8sRunLauncher.config_type()  # type: ignore[no-untyped-call]


def _instance() -> dict[str, Any]:
    doc: dict[str, Any] = render.instance_config()
    return doc


# --- parsing and completeness ---------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_parses_into_named_objects(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, f"{path.name} is empty"
    if path.name in NOT_OBJECTS:
        return
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: a document without apiVersion/kind"
        assert doc.get("metadata", {}).get("name"), f"{path.name}: a {doc['kind']} without a name"


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    kust = render.kustomization()
    listed = set(kust["resources"])
    on_disk = {p.name for p in DEPLOY.glob("*.yaml")} - NOT_OBJECTS
    assert listed == on_disk
    generated = kust["configMapGenerator"]
    assert generated == [
        {
            "name": "torghut-sim-dagster-instance",
            "namespace": "torghut-sim",
            "files": ["dagster.yaml=dagster-instance.yaml"],
        }
    ]
    # The launcher names the ConfigMap exactly; a hash suffix would break the reference.
    assert kust["generatorOptions"]["disableNameSuffixHash"] is True


def test_namespaced_objects_live_in_the_three_known_namespaces(objects: list[dict[str, Any]]) -> None:
    cluster_scoped = {"Namespace", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for obj in objects:
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in cluster_scoped:
            assert ns is None, f"{obj['kind']} is cluster-scoped"
        else:
            assert ns in {"torghut-sim", "torghut", "argocd"}, f"{obj['kind']}/{obj['metadata']['name']}"
    # Only the pipeline's own namespace is created here; the runtime's and Argo CD's belong to others.
    assert [o["metadata"]["name"] for o in _of_kind(objects, "Namespace")] == ["torghut-sim"]


# --- secrets ---------------------------------------------------------------------------------------

SECRETISH = re.compile(r"password|passwd|secret|token|dsn", re.IGNORECASE)


def test_no_secret_object_carries_data(objects: list[dict[str, Any]]) -> None:
    # Secrets are created out of band and only referenced by name; none is shipped, not even an empty one.
    assert _of_kind(objects, "Secret") == []
    for path in DEPLOY.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (isinstance(doc, dict) and doc.get("kind") == "Secret"), path.name
            assert not (isinstance(doc, dict) and "stringData" in doc), path.name


def test_configmaps_hold_no_credentials(objects: list[dict[str, Any]]) -> None:
    for cm in _of_kind(objects, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            assert not SECRETISH.search(key), f"{cm['metadata']['name']} has a credential-like key {key}"
            if cm["metadata"]["name"] == "torghut-sim-kubeconfig":
                kubeconfig = yaml.safe_load(value)
                user = kubeconfig["users"][0]["user"]
                # The pod's projected token by path, never a token value.
                assert set(user) == {"tokenFile"}
                assert user["tokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"


def test_instance_config_references_secrets_only_by_name() -> None:
    launcher = _instance()["run_launcher"]["config"]
    assert launcher["env_secrets"] == ["torghut-sim-pipeline-secrets"]
    assert launcher["postgres_password_secret"] == "torghut-sim-dagster-postgresql"
    postgres_db = _instance()["storage"]["custom"]["config"]["postgres_db"]
    assert postgres_db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    readme = (DEPLOY / "README.md").read_text()
    for name in ("torghut-sim-pipeline-secrets", "torghut-sim-dagster-postgresql", "torghut-sim-simulations"):
        assert name in readme, f"README.md does not say that {name} must exist"


# --- RBAC ------------------------------------------------------------------------------------------


def _rules(objects: list[dict[str, Any]], name: str, namespace: str) -> list[dict[str, Any]]:
    role = _one(objects, "Role", name)
    assert role["metadata"]["namespace"] == namespace
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def _grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, resourceName or '*') for every rule."""
    out: set[tuple[str, str, str, str]] = set()
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or ["*"]:
                        out.add((group, resource, verb, name))
    return out


def _g(resource: Resource, verb: str, name: str) -> tuple[str, str, str, str]:
    return (resource.group, resource.plural, verb, name)


def test_runtime_role_grants_exactly_what_runtime_control_uses(objects: list[dict[str, Any]]) -> None:
    t = RuntimeTargets()
    want = {
        _g(CONFIGMAP, "create", "*"),
        _g(CONFIGMAP, "get", LOCK_NAME),
        _g(CONFIGMAP, "patch", LOCK_NAME),
        _g(CONFIGMAP, "delete", LOCK_NAME),
        _g(SECRET, "create", "*"),
        _g(SECRET, "patch", RUN_SECRET_NAME),
        _g(SECRET, "delete", RUN_SECRET_NAME),
        _g(CONFIGMAP, "get", t.ta_configmap),
        _g(CONFIGMAP, "patch", t.ta_configmap),
        _g(FLINK_DEPLOYMENT, "get", t.ta_deployment),
        _g(FLINK_DEPLOYMENT, "patch", t.ta_deployment),
        _g(KNATIVE_SERVICE, "get", t.torghut_service),
        _g(KNATIVE_SERVICE, "patch", t.torghut_service),
        _g(KNATIVE_REVISION, "get", "*"),
    }
    assert _grants(_rules(objects, "torghut-sim-runtime-control", t.namespace)) == want


def test_argocd_role_grants_exactly_the_freeze(objects: list[dict[str, Any]]) -> None:
    t = RuntimeTargets()
    want = {
        _g(APPLICATIONSET, "get", t.applicationset_name),
        _g(APPLICATIONSET, "patch", t.applicationset_name),
        *(_g(APPLICATION, verb, app) for verb in ("get", "patch") for app in (t.app_name, t.root_app_name)),
    }
    assert _grants(_rules(objects, "torghut-sim-argocd-freeze", t.applicationset_namespace)) == want


def test_run_launcher_role_grants_what_dagster_k8s_calls(objects: list[dict[str, Any]]) -> None:
    want = {
        ("batch", "jobs", "create", "*"),
        ("batch", "jobs", "get", "*"),
        ("batch", "jobs", "list", "*"),
        ("batch", "jobs", "delete", "*"),
        ("batch", "jobs/status", "get", "*"),
        ("", "pods", "get", "*"),
        ("", "pods", "list", "*"),
        ("", "pods", "delete", "*"),
        ("", "pods/log", "get", "*"),
        ("", "events", "list", "*"),
    }
    assert _grants(_rules(objects, "torghut-sim-run-launcher", "torghut-sim")) == want


def test_no_wildcards_no_secret_reads_no_escalation(objects: list[dict[str, Any]]) -> None:
    assert not _of_kind(objects, "ClusterRole") and not _of_kind(objects, "ClusterRoleBinding")
    for role in _of_kind(objects, "Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{role['metadata']['name']}: wildcard {field}"
            if "secrets" in rule["resources"]:
                # Only the run's own DSN Secret is written and deleted; no Secret is ever read or listed.
                assert not {"get", "list", "watch"} & set(rule["verbs"])
                assert rule.get("resourceNames", [RUN_SECRET_NAME]) == [RUN_SECRET_NAME]
            assert not {"escalate", "bind", "impersonate", "watch", "update"} & set(rule["verbs"])


def test_every_binding_binds_the_pipeline_service_account_to_an_existing_role(
    objects: list[dict[str, Any]],
) -> None:
    sa = _one(objects, "ServiceAccount", SA)
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in _of_kind(objects, "Role")}
    bindings = _of_kind(objects, "RoleBinding")
    assert {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in bindings} == roles
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": SA, "namespace": sa["metadata"]["namespace"]}
        ]


def test_lock_create_policy_names_the_lock_and_the_pipeline(objects: list[dict[str, Any]]) -> None:
    policy = _one(objects, "ValidatingAdmissionPolicy", "torghut-sim-lock-create-only")
    binding = _one(objects, "ValidatingAdmissionPolicyBinding", "torghut-sim-lock-create-only")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": RuntimeTargets().namespace}
    conditions = " ".join(c["expression"] for c in policy["spec"]["matchConditions"])
    assert f"'system:serviceaccount:torghut-sim:{SA}'" in conditions
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == ["configmaps", "secrets"]
    [validation] = policy["spec"]["validations"]
    # ConfigMaps: only the lock; Secrets: only the run's DSN Secret.
    assert validation["expression"] == (
        f"request.resource.resource == 'configmaps' ? object.metadata.name == '{LOCK_NAME}'"
        f" : object.metadata.name == '{RUN_SECRET_NAME}'"
    )


# --- renderer --------------------------------------------------------------------------------------


def test_render_moves_every_namespace_field_and_keeps_names() -> None:
    ns = render.Namespaces(pipeline="p-ns", runtime="r-ns", argocd="a-ns")
    moved = list(render.render(ns, cluster_suffix="-x1"))
    base = list(render.render())
    assert len(moved) == len(base)
    text = yaml.safe_dump_all(moved)
    for old in ("namespace: torghut-sim", "namespace: torghut\n", "namespace: argocd", "torghut-sim:torghut"):
        assert old not in text, f"{old!r} survived the render"
    for before, after in zip(base, moved, strict=True):
        assert before.get("rules") == after.get("rules"), "resourceNames must never be rewritten"
        assert before["kind"] == after["kind"]
    assert _one(moved, "ValidatingAdmissionPolicyBinding", "torghut-sim-lock-create-only-x1")["spec"][
        "matchResources"
    ]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "r-ns"}
    instance = yaml.safe_load(
        _one(moved, "ConfigMap", "torghut-sim-dagster-instance")["data"]["dagster.yaml"]
    )
    assert instance["run_launcher"]["config"]["job_namespace"] == "p-ns"
    assert (
        _one(moved, "ConfigMap", "torghut-sim-pipeline-env")["data"]["TORGHUT_SIM_RUNTIME_NAMESPACE"]
        == "r-ns"
    )


# --- Dagster instance config -----------------------------------------------------------------------


def test_instance_config_passes_dagster_instance_validation() -> None:
    config, custom_class = dagster_instance_config(str(DEPLOY), "dagster-instance.yaml")
    assert custom_class is None
    assert config["run_launcher"]["module"] == "dagster_k8s"
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_instance_config_limits_each_runtime_lane_pool_to_one() -> None:
    concurrency = _instance()["concurrency"]
    assert concurrency["pools"] == {"default_limit": 1, "granularity": "op"}
    assert concurrency["runs"]["max_concurrent_runs"] > 1, "dumps of other days must run in parallel"
    # The code location's only pools are the runtime lanes; the README tells how to pin one explicitly.
    assert runtime_pool("default") in (DEPLOY / "README.md").read_text()


def test_run_coordinator_config_is_accepted_by_queued_run_coordinator() -> None:
    coordinator = _instance()["run_coordinator"]
    assert coordinator["module"] == "dagster"
    result = process_config(QueuedRunCoordinator.config_type(), coordinator.get("config") or {})
    assert result.success, result.errors


def test_run_launcher_config_is_accepted_by_k8s_run_launcher(objects: list[dict[str, Any]]) -> None:
    launcher = _instance()["run_launcher"]["config"]
    result = process_config(_launcher_schema(), launcher)
    assert result.success, [e.message for e in result.errors or []]
    # The names it references are the objects of this deployment.
    sa = _one(objects, "ServiceAccount", SA)
    assert launcher["service_account_name"] == SA
    assert launcher["job_namespace"] == sa["metadata"]["namespace"]
    _one(objects, "ConfigMap", launcher["instance_config_map"])
    for name in launcher["env_config_maps"]:
        assert _one(objects, "ConfigMap", name)["metadata"]["namespace"] == launcher["job_namespace"]
    mounted = {v["name"]: v for v in launcher["volumes"]}
    _one(objects, "ConfigMap", mounted["kubeconfig"]["configMap"]["name"])
    env = _one(objects, "ConfigMap", "torghut-sim-pipeline-env")["data"]
    mounts = {m["name"]: m["mount_path"] for m in launcher["volume_mounts"]}
    assert env["TORGHUT_SIM_KUBECONFIG"] == f"{mounts['kubeconfig']}/config"
    assert env["TORGHUT_SIM_OUTPUT_ROOT"] == mounts["simulations"]


def test_run_launcher_invalid_config_is_refused() -> None:
    broken = {**_instance()["run_launcher"]["config"], "env_secrets": "not-a-list", "no_such_field": 1}
    del broken["instance_config_map"]
    result = process_config(_launcher_schema(), broken)
    assert not result.success


@pytest.fixture
def restore_kube_default_config() -> Iterator[None]:
    """K8sRunLauncher loads its kubeconfig into the client's process-wide default; put that back after."""
    previous = Configuration.get_default_copy()
    try:
        yield
    finally:
        Configuration.set_default(previous)


def test_k8s_run_launcher_builds_from_the_instance_config(
    tmp_path: Path, restore_kube_default_config: None
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "unused"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    # Outside a cluster the in-cluster loader has nothing to read; everything else is the shipped config.
    config = {
        **_instance()["run_launcher"]["config"],
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    processed = process_config(_launcher_schema(), config)
    assert processed.success, processed.errors
    launcher = K8sRunLauncher.from_config_value(None, processed.value)  # type: ignore[no-untyped-call]
    assert launcher.service_account_name == SA
    assert launcher.job_namespace == "torghut-sim"
    assert launcher.env_secrets == ["torghut-sim-pipeline-secrets"]
    assert launcher.env_config_maps == ["torghut-sim-pipeline-env"]
    assert launcher.image_pull_policy == "IfNotPresent"
    assert launcher.instance_config_map == "torghut-sim-dagster-instance"
