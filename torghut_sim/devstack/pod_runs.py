"""Runs as pods on the local stack's node: the K8sRunLauncher instance, the code location's pod, the objects.

The production shape (deploy/README.md) on loopback: the code location's gRPC server runs from the project
image as a pod; the webserver and daemon load it through a `grpc_server` workspace entry and launch every
run as a Kubernetes Job (`dagster_k8s.K8sRunLauncher`) in `torghut-sim`, as the service account
`torghut-sim-pipeline` of deploy/k8s. Local differences, and only these: pods use the host's network (so
every address is 127.0.0.1), the image is imported (`imagePullPolicy: Never`), the service-account token
is projected explicitly (the local API server runs without the ServiceAccount admission plugin), the
kubeconfig points at 127.0.0.1, and artifacts and compute logs are host directories mounted at the same
path, so the daemon's sensors and the webserver see what run pods write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torghut_sim.devstack.image_spec import DAGSTER_HOME, IMAGE_REF

PIPELINE_NAMESPACE = "torghut-sim"
SERVICE_ACCOUNT = "torghut-sim-pipeline"
INSTANCE_CONFIGMAP = "torghut-sim-dagster-instance"
KUBECONFIG_CONFIGMAP = "torghut-sim-kubeconfig"
PIPELINE_SECRET = "torghut-sim-pipeline-secrets"
CODE_LOCATION = "torghut-sim-code-location"
LOCATION_NAME = "torghut_sim"
POD_KUBECONFIG_DIR = "/etc/torghut-sim/kube"
POD_KUBECONFIG = f"{POD_KUBECONFIG_DIR}/config"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# A day's run: the dump and report are the heavy steps (the native engine streams; polars/duckdb report).
RUN_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "2", "memory": "3Gi"},
}
CODE_LOCATION_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "384Mi"},
    "limits": {"cpu": "1", "memory": "1536Mi"},
}
LABELS = {"app.kubernetes.io/name": "torghut-sim"}


@dataclass(frozen=True)
class PodRunSettings:
    """Where the stack's servers are, and the host directories shared with the pods."""

    kube_server: str
    postgres_port: int
    kafka_bootstrap: str
    clickhouse_url: str
    dagster_db: str
    output_root: Path
    compute_logs: Path
    grpc_port: int
    image: str = IMAGE_REF


def pipeline_env(settings: PodRunSettings) -> dict[str, str]:
    """The non-secret environment of run pods and the code location (secrets come from the Secret)."""
    pg = f"postgresql://postgres@127.0.0.1:{settings.postgres_port}"
    return {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(settings.postgres_port),
        "DAGSTER_PG_DB": settings.dagster_db,
        "DAGSTER_PG_USERNAME": "postgres",
        "TORGHUT_SIM_TEMPLATE": "/opt/torghut-sim/config/local-trading-day-template.yaml",
        "TORGHUT_SIM_OUTPUT_ROOT": str(settings.output_root),
        "TORGHUT_SIM_KUBECONFIG": POD_KUBECONFIG,
        "TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
        "TORGHUT_SIM_CLICKHOUSE_HTTP_URL": settings.clickhouse_url,
        "TORGHUT_SIM_POSTGRES_ADMIN_DSN": f"{pg}/postgres",
        "TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE": f"{pg}/{{db}}",
    }


def pod_kubeconfig(server: str) -> dict[str, Any]:
    """The pipeline's kubeconfig inside a pod: the API server on loopback, the pod's own projected token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "devstack",
                "cluster": {"server": server, "certificate-authority": f"{TOKEN_DIR}/ca.crt"},
            }
        ],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"tokenFile": f"{TOKEN_DIR}/token"}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": SERVICE_ACCOUNT}}],
        "current-context": "devstack",
    }


def _volumes(settings: PodRunSettings) -> list[dict[str, Any]]:
    return [
        {"name": "simulations", "hostPath": {"path": str(settings.output_root), "type": "DirectoryOrCreate"}},
        {
            "name": "compute-logs",
            "hostPath": {"path": str(settings.compute_logs), "type": "DirectoryOrCreate"},
        },
        {"name": "kubeconfig", "configMap": {"name": KUBECONFIG_CONFIGMAP}},
        {
            "name": "sa-token",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                ]
            },
        },
    ]


def _mounts(settings: PodRunSettings) -> list[dict[str, Any]]:
    return [
        {"name": "simulations", "mount_path": str(settings.output_root)},
        {"name": "compute-logs", "mount_path": str(settings.compute_logs)},
        {"name": "kubeconfig", "mount_path": POD_KUBECONFIG_DIR, "read_only": True},
        {"name": "sa-token", "mount_path": TOKEN_DIR, "read_only": True},
    ]


def run_launcher_config(settings: PodRunSettings, kubeconfig_file: str) -> dict[str, Any]:
    """The K8sRunLauncher: a Job per run in `torghut-sim`, as the pipeline's service account, with limits."""
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "job_image": settings.image,
            "image_pull_policy": "Never",
            "job_namespace": PIPELINE_NAMESPACE,
            "service_account_name": SERVICE_ACCOUNT,
            "load_incluster_config": False,
            "kubeconfig_file": kubeconfig_file,
            "instance_config_map": INSTANCE_CONFIGMAP,
            "dagster_home": DAGSTER_HOME,
            "env_vars": [f"{k}={v}" for k, v in pipeline_env(settings).items()],
            "env_secrets": [PIPELINE_SECRET],
            "volumes": _volumes(settings),
            "volume_mounts": _mounts(settings),
            "labels": {**LABELS, "app.kubernetes.io/component": "run-worker"},
            "resources": RUN_RESOURCES,
            "fail_pod_on_run_failure": True,
            "run_k8s_config": {
                "pod_spec_config": {
                    "host_network": True,
                    "dns_policy": "ClusterFirstWithHostNet",
                    "automount_service_account_token": False,
                },
                "job_spec_config": {"ttl_seconds_after_finished": 3600, "backoff_limit": 0},
            },
        },
    }


def instance_document(settings: PodRunSettings, kubeconfig_file: str) -> dict[str, Any]:
    """dagster.yaml: the deployment's instance (storage, queue, pools, monitoring) with the pod launcher."""
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "scheme": "postgresql+psycopg2",
                    "hostname": {"env": "DAGSTER_PG_HOST"},
                    "port": {"env": "DAGSTER_PG_PORT"},
                    "db_name": {"env": "DAGSTER_PG_DB"},
                    "username": {"env": "DAGSTER_PG_USERNAME"},
                    "password": {"env": "DAGSTER_PG_PASSWORD"},
                }
            }
        },
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "pools": {"default_limit": 1, "granularity": "op"},
            "runs": {"max_concurrent_runs": 4},
        },
        "run_monitoring": {
            "enabled": True,
            "free_slots_after_run_end_seconds": 60,
            "start_timeout_seconds": 300,
            "cancel_timeout_seconds": 300,
            "max_runtime_seconds": 28800,
            # A deleted run pod is noticed within this many seconds and its run failed.
            "poll_interval_seconds": 10,
            "max_resume_run_attempts": 0,
        },
        "run_retries": {"enabled": False},
        # Run pods write stdout/stderr here (a host directory mounted at the same path): the UI reads it.
        "compute_logs": {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(settings.compute_logs)},
        },
        "python_logs": {"managed_python_loggers": ["torghut_sim"], "python_log_level": "INFO"},
        "run_launcher": run_launcher_config(settings, kubeconfig_file),
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
    }


def workspace_document(grpc_port: int) -> dict[str, Any]:
    """The webserver's and daemon's workspace: the code location's gRPC server, not a local process."""
    return {
        "load_from": [
            {"grpc_server": {"host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION_NAME}}
        ]
    }


def code_location_deployment(settings: PodRunSettings) -> dict[str, Any]:
    """The code location's Deployment: `dagster api grpc` from the image on 127.0.0.1 (host network)."""
    env = {
        **pipeline_env(settings),
        "DAGSTER_GRPC_HOST": "127.0.0.1",
        "DAGSTER_GRPC_PORT": str(settings.grpc_port),
        # Tells the launcher which image runs this location's runs.
        "DAGSTER_CURRENT_IMAGE": settings.image,
    }
    mounts = [
        {"name": m["name"], "mountPath": m["mount_path"], "readOnly": m.get("read_only", False)}
        for m in _mounts(settings)
    ]
    labels = {**LABELS, "app.kubernetes.io/component": "code-location"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CODE_LOCATION, "namespace": PIPELINE_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "containers": [
                        {
                            "name": "code-location",
                            "image": settings.image,
                            "imagePullPolicy": "Never",
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "envFrom": [{"secretRef": {"name": PIPELINE_SECRET}}],
                            "resources": CODE_LOCATION_RESOURCES,
                            "volumeMounts": mounts,
                            "readinessProbe": {
                                "exec": {
                                    "command": [
                                        "dagster",
                                        "api",
                                        "grpc-health-check",
                                        "--host",
                                        "127.0.0.1",
                                        "--port",
                                        str(settings.grpc_port),
                                    ]
                                },
                                "periodSeconds": 10,
                                "timeoutSeconds": 30,
                            },
                        }
                    ],
                    "volumes": _volumes(settings),
                },
            },
        },
    }


def secret_document(passwords: dict[str, str]) -> dict[str, Any]:
    """The pipeline's Secret: the storage and stack passwords, as environment variables of the pods."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PIPELINE_SECRET, "namespace": PIPELINE_NAMESPACE, "labels": LABELS},
        "type": "Opaque",
        "stringData": passwords,
    }


def configmap_document(name: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap of the pipeline namespace."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": PIPELINE_NAMESPACE, "labels": LABELS},
        "data": data,
    }


def cluster_objects(
    settings: PodRunSettings, deploy_objects: list[dict[str, Any]], passwords: dict[str, str]
) -> list[dict[str, Any]]:
    """deploy/k8s's objects (namespace, service account, RBAC, policies) with the local stack's config."""
    import yaml  # noqa: PLC0415

    local = {INSTANCE_CONFIGMAP, KUBECONFIG_CONFIGMAP}
    base = [o for o in deploy_objects if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] in local)]
    pod_instance = instance_document(settings, POD_KUBECONFIG)
    return [
        *base,
        configmap_document(
            INSTANCE_CONFIGMAP, {"dagster.yaml": yaml.safe_dump(pod_instance, sort_keys=False)}
        ),
        configmap_document(
            KUBECONFIG_CONFIGMAP,
            {"config": yaml.safe_dump(pod_kubeconfig(settings.kube_server), sort_keys=False)},
        ),
        secret_document(passwords),
        code_location_deployment(settings),
    ]


def apply_objects(api: Any, objects: list[dict[str, Any]]) -> None:
    """Server-side apply of each object (as `kubectl apply --server-side`), in order."""
    from kubernetes.dynamic import DynamicClient  # noqa: PLC0415

    dynamic = DynamicClient(api)
    for obj in objects:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dynamic.server_side_apply(
            resource,
            body=obj,
            namespace=obj["metadata"].get("namespace"),
            field_manager="torghut-sim-devstack",
            force_conflicts=True,
        )


def write_host_home(home: Path, settings: PodRunSettings, admin_kubeconfig: Path) -> None:
    """DAGSTER_HOME of the webserver and daemon on the host: the same instance, launching with the admin."""
    import yaml  # noqa: PLC0415

    home.mkdir(parents=True, exist_ok=True)
    doc = instance_document(settings, str(admin_kubeconfig))
    (home / "dagster.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (home / "workspace.yaml").write_text(
        yaml.safe_dump(workspace_document(settings.grpc_port), sort_keys=False)
    )
