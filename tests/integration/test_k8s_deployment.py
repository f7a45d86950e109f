"""deploy/k8s against the real kube-apiserver (RBAC on): server-side dry run of every object, then the RBAC
installed into throwaway namespaces holding the upstream GitOps objects, and least privilege proven as the
pipeline's ServiceAccount (a real TokenRequest token): access reviews, rules reviews, raw requests, the
pipeline's own runtime-control code and the dagster-k8s Job client.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_k8s.client import DagsterKubernetesClient
from deploy_render import render
from kubernetes import client
from kubernetes.client import ApiException
from kubernetes.dynamic import DynamicClient

from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.controller import ControlSettings, RuntimeController
from torghut_sim.runtime.inputs import RunIdentity, RuntimeTargets, SimulationValues
from torghut_sim.runtime.knative import SimulationEnvInputs, simulation_env
from torghut_sim.runtime.kube_client import (
    APPLICATION,
    APPLICATIONSET,
    CONFIGMAP,
    FLINK_DEPLOYMENT,
    KNATIVE_SERVICE,
    Kube,
    ObjectRef,
)
from torghut_sim.runtime.lock import LOCK_NAME, read_lock, renew_lock
from torghut_sim.runtime.run_secret import RUN_SECRET_NAME, secret_ref
from torghut_sim.runtime.ta import ta_config_values

SA = "torghut-sim-pipeline"
FIELD_MANAGER = "torghut-sim-deploy-tests"
MERGE_PATCH = "application/merge-patch+json"
PROBE_PATCH = {"metadata": {"annotations": {"torghut-sim.test/probe": "1"}}}


# --- helpers -------------------------------------------------------------------------------------------


def _names(tag: str) -> tuple[Any, str, str]:
    """Fresh namespaces (pipeline, runtime, Argo CD), another namespace, and a suffix for cluster names."""
    base = f"k8sdep-{tag}-{uuid.uuid4().hex[:6]}"
    return render.Namespaces(f"{base}-sim", f"{base}-rt", f"{base}-ar"), f"{base}-other", f"-{base}"


def _apply(dynamic: DynamicClient, obj: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Server-side apply, as `kubectl apply --server-side [--dry-run=server]` does."""
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    extra = {"dry_run": "All"} if dry_run else {}
    applied = dynamic.server_side_apply(
        resource,
        body=obj,
        namespace=obj["metadata"].get("namespace"),
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
        **extra,
    )
    result: dict[str, Any] = applied.to_dict()
    return result


def _exists(dynamic: DynamicClient, obj: dict[str, Any]) -> bool:
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        resource.get(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _delete_cluster_scoped(dynamic: DynamicClient, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] in render.CLUSTER_SCOPED_RENAMED:
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            try:
                resource.delete(name=obj["metadata"]["name"])
            except ApiException as exc:
                if exc.status != 404:
                    raise


def _wait(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _http(api: client.ApiClient, method: str, path: str, body: Any = None, content_type: str = "") -> int:
    """The HTTP status of one raw request (no retries, no client-side interpretation)."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    elif body is not None:
        headers["Content-Type"] = "application/json"
    resource_path, _, query = path.partition("?")
    try:
        response = api.call_api(
            resource_path,
            method,
            query_params=[tuple(p.split("=", 1)) for p in query.split("&") if p],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
    except ApiException as exc:
        return int(exc.status)
    return int(response.status)


@dataclass
class Deployed:
    """The deployment installed into fresh namespaces, and the pipeline ServiceAccount's credentials."""

    admin: client.ApiClient
    sa: client.ApiClient
    sa_kubeconfig: Path
    ns: Any
    other: str
    objects: list[dict[str, Any]]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.ns.pipeline}:{SA}"


def _sa_kubeconfig(deployed_objects: list[dict[str, Any]], kube_service: Any, token_file: Path) -> str:
    """The shipped in-cluster kubeconfig, pointed at the local server, its CA file and the token file."""
    shipped = next(o for o in deployed_objects if o["metadata"]["name"] == "torghut-sim-kubeconfig")
    doc = yaml.safe_load(shipped["data"]["config"])
    cluster = doc["clusters"][0]["cluster"]
    cluster["server"] = kube_service.server_url
    cluster["certificate-authority"] = str(kube_service.serving_cert)
    doc["users"][0]["user"]["tokenFile"] = str(token_file)
    return str(yaml.safe_dump(doc))


@pytest.fixture(scope="module")
def deployed(kube_service: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Upstream objects in runtime/Argo CD/other namespaces, deploy/k8s applied, and a token for the SA."""
    admin = kube_service.api_client()
    dynamic = DynamicClient(admin)
    ns, other, suffix = _names("rbac")
    for namespace in (ns.runtime, ns.argocd, other):
        load_fixtures(admin, namespace=namespace)
    core = client.CoreV1Api(admin)
    custom = client.CustomObjectsApi(admin)
    for namespace in (ns.argocd, other):
        for app in ("torghut", "root", "unrelated-app"):
            custom.create_namespaced_custom_object(
                APPLICATION.group,
                APPLICATION.version,
                namespace,
                APPLICATION.plural,
                {
                    "apiVersion": APPLICATION.api_version,
                    "kind": APPLICATION.kind,
                    "metadata": {"name": app},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": "https://example.invalid/lab.git", "path": app},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": ns.runtime},
                        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                    },
                },
            )
    for namespace in (ns.runtime, other):
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="unrelated-config"))
        )
        core.create_namespaced_secret(
            namespace,
            client.V1Secret(metadata=client.V1ObjectMeta(name="runtime-secret"), string_data={"k": "v"}),
        )

    objects = list(render.render(ns, cluster_suffix=suffix))
    try:
        for obj in objects:
            _apply(dynamic, obj, dry_run=False)
        core.create_namespaced_secret(
            ns.pipeline,
            client.V1Secret(metadata=client.V1ObjectMeta(name="torghut-sim-pipeline-secrets")),
        )
        token = core.create_namespaced_service_account_token(
            SA,
            ns.pipeline,
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        ).status.token
        token_file = tmp_path_factory.mktemp("sa") / "token"
        token_file.write_text(token)
        kubeconfig = token_file.parent / "kubeconfig"
        kubeconfig.write_text(_sa_kubeconfig(objects, kube_service, token_file))
        sa = Kube.from_kubeconfig(kubeconfig).api_client
        deployed = Deployed(admin, sa, kubeconfig, ns, other, objects)
        _wait_until_policies_are_live(deployed)
        yield deployed
        sa.close()
    finally:
        _delete_cluster_scoped(dynamic, objects)
        admin.close()


def _readable(api: client.ApiClient, path: str) -> bool:
    return _http(api, "GET", path) == 200


def _wait_until_policies_are_live(d: Deployed) -> None:
    """RBAC and admission policies reach the authorizer through informers: wait for both to bite."""
    cm = f"/api/v1/namespaces/{d.ns.runtime}/configmaps/torghut-ta-sim-config"
    jobs = f"/apis/batch/v1/namespaces/{d.ns.pipeline}/jobs"
    app = f"/apis/argoproj.io/v1alpha1/namespaces/{d.ns.argocd}/applications/root"
    for path in (cm, jobs, app):
        _wait(f"RBAC for {path}", functools.partial(_readable, d.sa, path))
    stray = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-the-lock"}}
    collection = f"/api/v1/namespaces/{d.ns.runtime}/configmaps?dryRun=All"
    _wait("the lock-create admission policy", lambda: _http(d.sa, "POST", collection, stray) == 403)


# --- the access table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One request of the pipeline identity: RBAC's verdict and the real request's HTTP status."""

    where: str  # pipeline | runtime | argocd | other
    group: str
    version: str
    resource: str
    verb: str
    name: str = ""
    subresource: str = ""
    rbac: bool = False
    http: int = 403

    def namespace(self, d: Deployed) -> str:
        known: dict[str, str] = {"pipeline": d.ns.pipeline, "runtime": d.ns.runtime, "argocd": d.ns.argocd}
        return known.get(self.where, d.other)

    def path(self, d: Deployed, with_name: bool) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{base}/namespaces/{self.namespace(d)}/{self.resource}"
        if with_name:
            path += f"/{self.name}" + (f"/{self.subresource}" if self.subresource else "")
        return path

    def request(self, d: Deployed, api: client.ApiClient) -> int:
        kinds = {"configmaps": "ConfigMap", "secrets": "Secret", "jobs": "Job", "services": "Service"}
        kind = kinds.get(self.resource, "X")
        api_version = f"{self.group}/{self.version}" if self.group else self.version
        named = {"apiVersion": api_version, "kind": kind, "metadata": {"name": self.name}}
        if self.verb == "get":
            return _http(api, "GET", self.path(d, True))
        if self.verb == "list":
            return _http(api, "GET", self.path(d, False))
        if self.verb == "create":
            return _http(api, "POST", self.path(d, False), named)
        if self.verb == "patch":
            return _http(api, "PATCH", self.path(d, True), PROBE_PATCH, MERGE_PATCH)
        if self.verb == "update":
            return _http(api, "PUT", self.path(d, True), named)
        if self.verb == "delete":
            return _http(api, "DELETE", self.path(d, True))
        raise AssertionError(f"no real request for verb {self.verb}")

    def __str__(self) -> str:
        target = "/".join(p for p in (self.resource, self.name, self.subresource) if p)
        return f"{self.verb} {self.group or 'core'} {target} in {self.where}"


KN, FL, AR = "serving.knative.dev", "flink.apache.org", "argoproj.io"


def _ok(where: str, group: str, version: str, resource: str, verb: str, name: str = "", **kw: Any) -> Access:
    """RBAC allows it; the real request answers `http` (default: 201 for create, 200 otherwise)."""
    kw.setdefault("http", 201 if verb == "create" else 200)
    return Access(where, group, version, resource, verb, name, rbac=True, **kw)


def _no(where: str, group: str, version: str, resource: str, verb: str, name: str = "", **kw: Any) -> Access:
    return Access(where, group, version, resource, verb, name, **kw)


# In order: the real requests run top to bottom (the lock is created, then read, then deleted).
ACCESS: tuple[Access, ...] = (
    # runtime namespace: what runtime control does
    _ok("runtime", "", "v1", "configmaps", "create", LOCK_NAME),
    _ok("runtime", "", "v1", "configmaps", "get", LOCK_NAME),
    _ok("runtime", "", "v1", "configmaps", "patch", LOCK_NAME),  # the holder's heartbeat
    _no("runtime", "", "v1", "configmaps", "update", LOCK_NAME),
    _ok("runtime", "", "v1", "configmaps", "delete", LOCK_NAME),
    _ok("runtime", "", "v1", "configmaps", "get", "torghut-ta-sim-config"),
    _ok("runtime", "", "v1", "configmaps", "patch", "torghut-ta-sim-config"),
    _ok("runtime", KN, "v1", "services", "get", "torghut-sim"),
    _ok("runtime", KN, "v1", "services", "patch", "torghut-sim"),
    _ok("runtime", FL, "v1beta1", "flinkdeployments", "get", "torghut-ta-sim"),
    _ok("runtime", FL, "v1beta1", "flinkdeployments", "patch", "torghut-ta-sim"),
    # Revision names are only known at run time; no Revision CRD locally, so allowed reads answer 404.
    _ok("runtime", KN, "v1", "revisions", "get", "torghut-sim-00001", http=404),
    # runtime namespace: refused
    _ok("runtime", "", "v1", "configmaps", "create", "not-the-lock", http=403),  # RBAC yes, admission no
    _no("runtime", "", "v1", "configmaps", "get", "unrelated-config"),
    _no("runtime", "", "v1", "configmaps", "patch", "unrelated-config"),
    _no("runtime", "", "v1", "configmaps", "list"),
    _no("runtime", "", "v1", "configmaps", "watch"),
    _no("runtime", "", "v1", "configmaps", "update", "torghut-ta-sim-config"),
    _no("runtime", "", "v1", "configmaps", "delete", "torghut-ta-sim-config"),
    _no("runtime", KN, "v1", "services", "delete", "torghut-sim"),
    _no("runtime", KN, "v1", "services", "create", "torghut-sim-2"),
    _no("runtime", KN, "v1", "services", "list"),
    _no("runtime", KN, "v1", "services", "patch", "torghut-sim", subresource="status"),
    _no("runtime", KN, "v1", "revisions", "list"),
    _no("runtime", KN, "v1", "revisions", "delete", "torghut-sim-00001"),
    _no("runtime", FL, "v1beta1", "flinkdeployments", "delete", "torghut-ta-sim"),
    _no("runtime", "", "v1", "secrets", "get", "runtime-secret"),
    _no("runtime", "", "v1", "secrets", "list"),
    # the run's DSN Secret: written and deleted by name, never read back; no other Secret may be created
    _ok("runtime", "", "v1", "secrets", "create", RUN_SECRET_NAME),
    _no("runtime", "", "v1", "secrets", "get", RUN_SECRET_NAME),
    _ok("runtime", "", "v1", "secrets", "patch", RUN_SECRET_NAME),
    _no("runtime", "", "v1", "secrets", "update", RUN_SECRET_NAME),
    _ok("runtime", "", "v1", "secrets", "delete", RUN_SECRET_NAME),
    _ok("runtime", "", "v1", "secrets", "create", "not-the-run-secret", http=403),  # RBAC yes, admission no
    _no("runtime", "", "v1", "secrets", "patch", "runtime-secret"),
    _no("runtime", "", "v1", "secrets", "delete", "runtime-secret"),
    _no("runtime", AR, "v1alpha1", "applicationsets", "patch", "product"),  # a stray copy: wrong namespace
    _no("runtime", "batch", "v1", "jobs", "create", "sneaky"),
    # Argo CD namespace
    _ok("argocd", AR, "v1alpha1", "applicationsets", "get", "product"),
    _ok("argocd", AR, "v1alpha1", "applicationsets", "patch", "product"),
    _ok("argocd", AR, "v1alpha1", "applications", "get", "torghut"),
    _ok("argocd", AR, "v1alpha1", "applications", "patch", "torghut"),
    _ok("argocd", AR, "v1alpha1", "applications", "get", "root"),
    _ok("argocd", AR, "v1alpha1", "applications", "patch", "root"),
    _no("argocd", AR, "v1alpha1", "applications", "patch", "unrelated-app"),
    _no("argocd", AR, "v1alpha1", "applications", "delete", "torghut"),
    _no("argocd", AR, "v1alpha1", "applications", "list"),
    _no("argocd", AR, "v1alpha1", "applicationsets", "delete", "product"),
    _no("argocd", AR, "v1alpha1", "applicationsets", "create", "product-2"),
    _no("argocd", "", "v1", "configmaps", "create", LOCK_NAME),
    # the pipeline's own namespace: the run launcher
    _ok("pipeline", "batch", "v1", "jobs", "list"),
    _ok("pipeline", "", "v1", "pods", "list"),
    _ok("pipeline", "", "v1", "events", "list"),
    _ok("pipeline", "batch", "v1", "jobs", "get", "no-such-run", http=404),
    _ok("pipeline", "batch", "v1", "jobs", "get", "no-such-run", subresource="status", http=404),
    _ok("pipeline", "", "v1", "pods", "get", "no-such-pod", http=404),
    _ok("pipeline", "", "v1", "pods", "get", "no-such-pod", subresource="log", http=404),
    _ok("pipeline", "", "v1", "pods", "delete", "no-such-pod", http=404),
    _no("pipeline", "", "v1", "pods", "create", "sneaky"),
    _no("pipeline", "batch", "v1", "jobs", "patch", "no-such-run"),
    _no("pipeline", "", "v1", "secrets", "get", "torghut-sim-pipeline-secrets"),
    _no("pipeline", "", "v1", "configmaps", "get", "torghut-sim-pipeline-env"),
    _no("pipeline", "rbac.authorization.k8s.io", "v1", "rolebindings", "create", "escalate"),
    # anything in another namespace, even the same objects
    _no("other", KN, "v1", "services", "get", "torghut-sim"),
    _no("other", KN, "v1", "services", "patch", "torghut-sim"),
    _no("other", "", "v1", "configmaps", "get", "torghut-ta-sim-config"),
    _no("other", "", "v1", "configmaps", "create", LOCK_NAME),
    _no("other", FL, "v1beta1", "flinkdeployments", "patch", "torghut-ta-sim"),
    _no("other", AR, "v1alpha1", "applicationsets", "patch", "product"),
    _no("other", AR, "v1alpha1", "applications", "patch", "root"),
    _no("other", "batch", "v1", "jobs", "create", "sneaky"),
    _no("other", "", "v1", "secrets", "get", "runtime-secret"),
)


def _review_attributes(access: Access, d: Deployed) -> client.V1ResourceAttributes:
    return client.V1ResourceAttributes(
        namespace=access.namespace(d),
        verb=access.verb,
        group=access.group,
        version=access.version,
        resource=access.resource,
        subresource=access.subresource or None,
        name=access.name or None,
    )


def test_every_object_is_accepted_by_server_side_dry_run(kube_service: Any) -> None:
    admin = kube_service.api_client()
    dynamic = DynamicClient(admin)
    ns, _other, suffix = _names("dry")
    for namespace in (ns.runtime, ns.argocd):
        load_fixtures(admin, namespace=namespace)
    objects = list(render.render(ns, cluster_suffix=suffix))
    namespace_obj = objects[0]
    assert namespace_obj["kind"] == "Namespace"
    try:
        # `kubectl apply --dry-run=server` of a fresh install needs the namespace its objects go into.
        _apply(dynamic, namespace_obj, dry_run=False)
        for obj in objects:
            stored = _apply(dynamic, obj, dry_run=True)
            assert stored["kind"] == obj["kind"]
            assert stored["metadata"]["name"] == obj["metadata"]["name"]
            assert stored["metadata"].get("namespace") == obj["metadata"].get("namespace")
        # A dry run writes nothing.
        created = [o["kind"] + "/" + o["metadata"]["name"] for o in objects[1:] if _exists(dynamic, o)]
        assert created == []
    finally:
        _delete_cluster_scoped(dynamic, objects)
        admin.close()


def test_server_side_dry_run_refuses_a_broken_object(kube_service: Any) -> None:
    admin = kube_service.api_client()
    dynamic = DynamicClient(admin)
    ns, _other, _suffix = _names("bad")
    load_fixtures(admin, namespace=ns.runtime)
    role = next(
        o for o in render.render(ns) if o["kind"] == "Role" and o["metadata"]["namespace"] == ns.runtime
    )
    del role["rules"][0]["verbs"]
    try:
        with pytest.raises(ApiException) as refused:
            _apply(dynamic, role, dry_run=True)
        assert refused.value.status == 422
    finally:
        admin.close()


def test_the_token_is_the_pipeline_service_account(deployed: Deployed) -> None:
    review = client.AuthenticationV1Api(deployed.sa).create_self_subject_review(client.V1SelfSubjectReview())
    assert review.status.user_info.username == deployed.user
    assert "system:masters" not in (review.status.user_info.groups or [])


@pytest.mark.parametrize("access", ACCESS, ids=str)
def test_access_reviews_grant_exactly_the_table(deployed: Deployed, access: Access) -> None:
    attributes = _review_attributes(access, deployed)
    own = client.AuthorizationV1Api(deployed.sa).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
        )
    )
    assert own.status.allowed is access.rbac, f"SelfSubjectAccessReview: {access}"
    asked = client.AuthorizationV1Api(deployed.admin).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(user=deployed.user, resource_attributes=attributes)
        )
    )
    assert asked.status.allowed is access.rbac, f"SubjectAccessReview: {access}"


def test_real_requests_as_the_service_account_match_the_table(deployed: Deployed) -> None:
    mismatches = []
    for access in ACCESS:
        if access.verb == "watch":
            continue  # covered by the access reviews; a granted watch would hang a raw request
        status = access.request(deployed, deployed.sa)
        if status != access.http:
            mismatches.append(f"{access}: HTTP {status}, expected {access.http}")
    assert mismatches == []
    # The refused and dry-run requests changed nothing; the allowed create was undone by the allowed delete.
    core = client.CoreV1Api(deployed.admin)
    names = {cm.metadata.name for cm in core.list_namespaced_config_map(deployed.ns.runtime).items}
    assert LOCK_NAME not in names and "not-the-lock" not in names
    assert "torghut-sim-2" not in {
        s["metadata"]["name"]
        for s in client.CustomObjectsApi(deployed.admin).list_namespaced_custom_object(
            KN, "v1", deployed.ns.runtime, "services"
        )["items"]
    }


def test_the_admin_is_not_constrained_by_the_lock_policy(deployed: Deployed) -> None:
    # The policy matches only the pipeline identity; anyone else creating ConfigMaps there is unaffected.
    stray = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-the-lock"}}
    path = f"/api/v1/namespaces/{deployed.ns.runtime}/configmaps?dryRun=All"
    assert _http(deployed.admin, "POST", path, stray) == 201


def _own_rules(d: Deployed, namespace: str) -> set[tuple[str, str, str, str]]:
    review = client.AuthorizationV1Api(d.sa).create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=namespace))
    )
    out: set[tuple[str, str, str, str]] = set()
    for rule in review.status.resource_rules:
        for group in rule.api_groups or [""]:
            if group in ("authorization.k8s.io", "authentication.k8s.io"):
                continue  # every authenticated user may review itself (system:basic-user)
            for resource in rule.resources or []:
                for verb in rule.verbs:
                    for name in rule.resource_names or ["*"]:
                        out.add((group, resource, verb, name))
    return out


def _role_rules(d: Deployed, namespace: str) -> set[tuple[str, str, str, str]]:
    out: set[tuple[str, str, str, str]] = set()
    for role in (o for o in d.objects if o["kind"] == "Role" and o["metadata"]["namespace"] == namespace):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        for name in rule.get("resourceNames") or ["*"]:
                            out.add((group, resource, verb, name))
    return out


def test_rules_review_shows_nothing_beyond_the_roles(deployed: Deployed) -> None:
    for namespace in (deployed.ns.pipeline, deployed.ns.runtime, deployed.ns.argocd):
        expected = _role_rules(deployed, namespace)
        assert expected, namespace
        assert _own_rules(deployed, namespace) == expected, namespace
    assert _own_rules(deployed, deployed.other) == set()


# --- the pipeline's own code under the ServiceAccount -------------------------------------------------


def _snapshot(kube: Kube, ns: Any) -> dict[str, Any]:
    refs = {
        "appset": ObjectRef(APPLICATIONSET, ns.argocd, "product"),
        "app": ObjectRef(APPLICATION, ns.argocd, "torghut"),
        "root": ObjectRef(APPLICATION, ns.argocd, "root"),
        "ta_configmap": ObjectRef(CONFIGMAP, ns.runtime, "torghut-ta-sim-config"),
        "flink": ObjectRef(FLINK_DEPLOYMENT, ns.runtime, "torghut-ta-sim"),
        "knative": ObjectRef(KNATIVE_SERVICE, ns.runtime, "torghut-sim"),
    }
    out: dict[str, Any] = {}
    for key, ref in refs.items():
        obj = kube.require(ref)
        out[key] = obj.get("data") if key == "ta_configmap" else obj.get("spec")
    return out


def test_runtime_control_runs_as_the_service_account_and_restores(deployed: Deployed, tmp_path: Path) -> None:
    admin = Kube(deployed.admin)
    before = _snapshot(admin, deployed.ns)
    identity = RunIdentity("sim-20260306-01", "sim_20260306_01", "torghut-trades-20260306", "tests@host:1")
    simdb = f"torghut_sim_{identity.run_token}"
    env = simulation_env(
        SimulationEnvInputs(
            run_id=identity.run_id,
            run_token=identity.run_token,
            dataset_id=identity.dataset_id,
            db_dsn="postgresql://torghut@127.0.0.1:5432/" + simdb,
            simulation_database=simdb,
            window_start="2026-03-06T14:30:00Z",
            window_end="2026-03-06T21:00:00Z",
            overrides={},
        )
    )
    values = SimulationValues(ta_config_values(identity.run_token, "http://127.0.0.1:8123", simdb), env)
    targets = RuntimeTargets(namespace=deployed.ns.runtime, applicationset_namespace=deployed.ns.argocd)
    # Exactly how a run pod connects: the pipeline's kubeconfig loader on the shipped kubeconfig shape.
    with Kube.from_kubeconfig(deployed.sa_kubeconfig) as kube:
        controller = RuntimeController(
            kube, RunPaths(tmp_path), targets, identity, values, ControlSettings(poll_seconds=0.1)
        )
        controller.acquire_lock()
        taken = read_lock(admin, deployed.ns.runtime)
        assert taken is not None
        # The heartbeat renews the lock as the service account (a conditional patch of the lock only).
        renewed = renew_lock(kube, deployed.ns.runtime, identity)
        assert renewed.resource_version != taken.resource_version and renewed.heartbeat_at is not None
        controller.prepare_argocd()
        controller.apply()
        during = _snapshot(admin, deployed.ns)
        assert during["ta_configmap"]["TA_GROUP_ID"] != before["ta_configmap"].get("TA_GROUP_ID")
        assert "automated" not in during["app"]["syncPolicy"]
        assert during["flink"]["restartNonce"] == (before["flink"].get("restartNonce") or 0) + 1
        assert admin.get(secret_ref(deployed.ns.runtime, RUN_SECRET_NAME)) is not None
        controller.teardown()
        controller.restore_argocd()
        controller.release_lock()
    assert _snapshot(admin, deployed.ns) == before
    assert admin.get(secret_ref(deployed.ns.runtime, RUN_SECRET_NAME)) is None
    assert read_lock(admin, deployed.ns.runtime) is None


def test_dagster_k8s_client_manages_run_jobs_as_the_service_account(deployed: Deployed) -> None:
    launcher = render.instance_config()["run_launcher"]["config"]
    assert launcher["service_account_name"] == SA
    namespace = deployed.ns.pipeline  # the rendered job_namespace
    k8s = DagsterKubernetesClient(  # type: ignore[no-untyped-call]
        batch_api=client.BatchV1Api(deployed.sa),
        core_api=client.CoreV1Api(deployed.sa),
        logger=logging.getLogger(__name__).info,
        sleeper=time.sleep,
        timer=time.monotonic,
    )
    name = f"dagster-run-{uuid.uuid4().hex[:8]}"
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/name": "torghut-sim"}),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    service_account_name=launcher["service_account_name"],
                    restart_policy="Never",
                    containers=[client.V1Container(name="dagster", image="busybox", command=["true"])],
                )
            ),
        ),
    )
    k8s.create_namespaced_job_with_retries(job, namespace)
    assert k8s.get_job_status(name, namespace) is not None
    # Stand in for the Job controller (none runs without the local node): it stamps startTime, which the
    # debug info reads.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.BatchV1Api(deployed.admin).patch_namespaced_job_status(
        name, namespace, {"status": {"startTime": now}}
    )
    debug = k8s.get_job_debug_info(name, namespace)
    assert name in debug and "Could not find job" not in debug
    # Without the optional local node no controller creates pods; with it, only the Job's own pod is listed.
    pods = k8s.get_pod_names_in_job(name, namespace)  # type: ignore[no-untyped-call]
    assert all(pod.startswith(f"{name}-") for pod in pods), pods
    assert k8s.retrieve_pod_events("no-such-pod", namespace) == []
    assert k8s.delete_job(name, namespace) is True  # type: ignore[no-untyped-call]
    # Deleted: with the default (orphan) propagation the garbage collector, absent locally, finishes removal.
    try:
        gone = client.BatchV1Api(deployed.admin).read_namespaced_job(name, namespace)
    except ApiException as exc:
        assert exc.status == 404
    else:
        assert gone.metadata.deletion_timestamp is not None
    # The same client is refused everywhere but the pipeline namespace.
    with pytest.raises(ApiException) as refused:
        client.BatchV1Api(deployed.sa).create_namespaced_job(deployed.ns.runtime, job)
    assert refused.value.status == 403


def test_a_runtime_lane_gets_the_runtime_rbac_for_its_own_objects(deployed: Deployed) -> None:
    """A second lane namespace: its objects by their lane names, the lock create-only policy, nothing else."""
    dynamic = DynamicClient(deployed.admin)
    lane_ns = f"{deployed.other}-lane"
    client.CoreV1Api(deployed.admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=lane_ns))
    )
    lane = {
        "name": "second",
        "namespace": lane_ns,
        "torghut_service": "torghut-sim-b",
        "ta_configmap": "torghut-ta-sim-b-config",
        "ta_deployment": "torghut-ta-sim-b",
    }
    policy = next(o for o in deployed.objects if o["kind"] == "ValidatingAdmissionPolicy")
    cluster_suffix = policy["metadata"]["name"].removeprefix("torghut-sim-lock-create-only")
    objects = render.lane_objects(lane, deployed.ns, cluster_suffix)
    assert {o["kind"] for o in objects} == {"Role", "RoleBinding", "ValidatingAdmissionPolicyBinding"}
    try:
        for obj in objects:
            _apply(dynamic, obj, dry_run=False)

        def allowed(verb: str, group: str, resource: str, name: str) -> bool:
            review = client.AuthorizationV1Api(deployed.admin).create_subject_access_review(
                client.V1SubjectAccessReview(
                    spec=client.V1SubjectAccessReviewSpec(
                        user=deployed.user,
                        resource_attributes=client.V1ResourceAttributes(
                            namespace=lane_ns, verb=verb, group=group, resource=resource, name=name
                        ),
                    )
                )
            )
            return bool(review.status.allowed)

        _wait("the lane's RBAC", lambda: allowed("patch", KN, "services", "torghut-sim-b"))
        assert allowed("patch", FL, "flinkdeployments", "torghut-ta-sim-b")
        assert allowed("patch", "", "configmaps", "torghut-ta-sim-b-config")
        assert allowed("delete", "", "configmaps", LOCK_NAME)
        # The primary lane's names mean nothing here, and nothing else is granted.
        assert not allowed("patch", KN, "services", "torghut-sim")
        assert not allowed("patch", "", "configmaps", "torghut-ta-sim-config")
        assert not allowed("get", "", "secrets", "runtime-secret")
        stray = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-the-lock"}}
        collection = f"/api/v1/namespaces/{lane_ns}/configmaps?dryRun=All"
        _wait("the lock policy on the lane", lambda: _http(deployed.sa, "POST", collection, stray) == 403)
        lock = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": LOCK_NAME}}
        assert _http(deployed.sa, "POST", collection, lock) == 201
    finally:
        _delete_cluster_scoped(dynamic, objects)
