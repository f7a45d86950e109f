"""The local stack's real Kubernetes API: etcd and kube-apiserver built from the Go module proxy.

Owns the build of `devstack/kube/` (one binary that runs either server), the throwaway credentials (service
account key, admin token, serving certificate), the kubeconfig, and the namespaces and CRDs the pipeline
needs (Argo CD Application/ApplicationSet, Knative Service, FlinkDeployment).
"""

from __future__ import annotations

import secrets
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.go_build import KUBERNETES_VERSION, GoBinaryService, file_lock
from torghut_sim.devstack.kube_objects import (
    apply_crd,
    crd_documents,
    ensure_namespace,
    render_kubeconfig,
    token_file_line,
    wait_crd_established,
)
from torghut_sim.devstack.process import port_open, read_pid, run_checked, spawn, wait_until

# The etcd server that k8s.io/kubernetes v1.35.4 itself requires; it is linked into the same binary.
ETCD_VERSION = "v3.6.5"
BINARY_NAME = "kube-devstack"
NAMESPACES = ("argocd", "torghut")
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"


class KubeService(GoBinaryService):
    """etcd + kube-apiserver on loopback with RBAC, an admin token, and the pipeline's CRDs registered."""

    name = "kube"
    # One multi-call binary: `etcd` / `kube-apiserver`.
    binary_name = BINARY_NAME

    # --- paths -------------------------------------------------------------------------------------------

    @property
    def source_dir(self) -> Path:
        """The checked-in Go module and CRDs."""
        return self.config.assets_dir / "kube"

    @property
    def pki_dir(self) -> Path:
        """Service-account key, token file and serving certificate."""
        path = self.state_dir / "pki"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def serving_cert(self) -> Path:
        """The self-signed serving certificate bundle kube-apiserver writes into its cert dir."""
        return self.pki_dir / "serving" / "apiserver.crt"

    @property
    def token_path(self) -> Path:
        """The admin bearer token."""
        return self.pki_dir / "admin.token"

    @property
    def kubeconfig_path(self) -> Path:
        """The admin kubeconfig, written once the server is ready."""
        return self.state_dir / "kubeconfig"

    @property
    def etcd_pid_file(self) -> Path:
        """The PID file of etcd."""
        return self.state_dir / "etcd.pid"

    @property
    def etcd_log_file(self) -> Path:
        """The log of etcd."""
        return self.state_dir / "etcd.log"

    @property
    def pid_file(self) -> Path:
        """The PID file of kube-apiserver, the main process."""
        return self.state_dir / "kube-apiserver.pid"

    @property
    def log_file(self) -> Path:
        """The log of kube-apiserver."""
        return self.state_dir / "kube-apiserver.log"

    @property
    def server_url(self) -> str:
        """The HTTPS URL of kube-apiserver."""
        return f"https://{self.config.host}:{self.config.ports.kube_apiserver}"

    @property
    def etcd_url(self) -> str:
        """The client URL of etcd."""
        return f"http://{self.config.host}:{self.config.ports.etcd_client}"

    def pid_files(self) -> dict[str, Path]:
        """etcd, then kube-apiserver (start order)."""
        return {"etcd": self.etcd_pid_file, "kube-apiserver": self.pid_file}

    # --- install -----------------------------------------------------------------------------------------

    def install(self) -> None:
        """Build the binary into the build cache when missing or stale; openssl for the key pair."""
        ensure_packages({"openssl": "/usr/bin/openssl"})
        self._build_binary(f"kube-apiserver {KUBERNETES_VERSION}")

    # --- credentials -------------------------------------------------------------------------------------

    def _ensure_credentials(self) -> None:
        # Generated once per state dir, so restarts keep tokens and service-account signatures valid.
        sa_key = self.pki_dir / "sa.key"
        if not sa_key.is_file():
            partial = sa_key.with_suffix(".partial")
            run_checked(
                [
                    "openssl",
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    str(partial),
                ],
                "service-account key generation",
            )
            partial.chmod(0o600)
            partial.replace(sa_key)
        if not self.token_path.is_file():
            write_text_atomic(self.token_path, secrets.token_hex(24) + "\n", mode=0o600)
        tokens = self.pki_dir / "tokens.csv"
        tokens.write_text(token_file_line(self.token()))
        tokens.chmod(0o600)

    def token(self) -> str:
        """The admin bearer token (group system:masters)."""
        try:
            return self.token_path.read_text().strip()
        except OSError as exc:
            raise DevstackError("kube_not_initialised", f"no admin token at {self.token_path}") from exc

    # --- processes ---------------------------------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        host, ports = self.config.host, self.config.ports
        peer = f"http://{host}:{ports.etcd_peer}"
        return [
            str(self.binary),
            "etcd",
            "--name",
            "devstack",
            "--data-dir",
            str(self.state_dir / "etcd"),
            "--listen-client-urls",
            self.etcd_url,
            "--advertise-client-urls",
            self.etcd_url,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"devstack={peer}",
            "--initial-cluster-state",
            "new",
            # Throwaway data: skipping fsync keeps writes fast on a shared disk.
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        ]

    def _apiserver_argv(self) -> list[str]:
        host, ports = self.config.host, self.config.ports
        sa_key = str(self.pki_dir / "sa.key")
        return [
            str(self.binary),
            "kube-apiserver",
            "--etcd-servers",
            self.etcd_url,
            "--bind-address",
            host,
            "--advertise-address",
            host,
            "--secure-port",
            str(ports.kube_apiserver),
            "--cert-dir",
            str(self.serving_cert.parent),
            "--token-auth-file",
            str(self.pki_dir / "tokens.csv"),
            "--authorization-mode",
            "RBAC",
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file",
            sa_key,
            "--service-account-signing-key-file",
            sa_key,
            "--service-cluster-ip-range",
            SERVICE_CLUSTER_IP_RANGE,
            # A loopback address is not a valid Endpoints IP; there are no pods to route to anyway.
            "--endpoint-reconciler-type",
            "none",
            # No controller-manager creates default service accounts, so pods would otherwise be refused.
            "--disable-admission-plugins",
            "ServiceAccount",
            # Priority and fairness only adds background work on a one-client, two-core machine.
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v",
            "1",
        ]

    def _refuse_foreign_listener(self, pid_file: Path, port: int, what: str) -> None:
        # Something else on our port would silently become "our" server; refuse instead.
        if read_pid(pid_file) is None and port_open(self.config.host, port):
            raise DevstackError(
                "port_in_use",
                f"{what} port {self.config.host}:{port} is taken by a process this stack did not start",
            )

    def etcd_healthy(self) -> bool:
        """True when etcd answers its /health endpoint with health=true."""
        try:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                body: bytes = resp.read()
        except (OSError, urllib.error.URLError):
            return False
        return b'"health":"true"' in body

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.serving_cert))

    def healthy(self) -> bool:
        """True when kube-apiserver answers /readyz with ok to the admin token over verified TLS."""
        if not self.serving_cert.is_file() or not self.token_path.is_file():
            return False
        request = urllib.request.Request(
            f"{self.server_url}/readyz", headers={"Authorization": f"Bearer {self.token()}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=3, context=self._ssl_context()) as resp:
                status: int = resp.status
                body: bytes = resp.read()
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False
        return status == 200 and body.strip() == b"ok"

    def start(self) -> None:
        """Build if needed, start etcd then kube-apiserver, write the kubeconfig, register namespaces/CRDs."""
        self.install()
        with file_lock(self.state_dir / ".start.lock"):
            self._ensure_credentials()
            if not self.etcd_healthy():
                self._refuse_foreign_listener(self.etcd_pid_file, self.config.ports.etcd_client, "etcd")
                spawn("etcd", self._etcd_argv(), self.etcd_pid_file, self.etcd_log_file)
                wait_until("etcd", self.etcd_healthy, 60, self.etcd_pid_file, self.etcd_log_file)
            if not self.healthy():
                self._refuse_foreign_listener(
                    self.pid_file, self.config.ports.kube_apiserver, "kube-apiserver"
                )
                spawn("kube-apiserver", self._apiserver_argv(), self.pid_file, self.log_file)
                wait_until("kube-apiserver", self.healthy, 180, self.pid_file, self.log_file)
            self._write_kubeconfig()
            self.bootstrap()

    def _write_kubeconfig(self) -> None:
        doc = render_kubeconfig(self.server_url, self.serving_cert.read_bytes(), self.token())
        write_text_atomic(self.kubeconfig_path, yaml.safe_dump(doc, sort_keys=False), mode=0o600)

    def endpoints(self) -> dict[str, str]:
        """The API server URL and the admin kubeconfig path."""
        return {"server": self.server_url, "kubeconfig": str(self.kubeconfig_path)}

    # --- API objects -------------------------------------------------------------------------------------

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` authenticated as the admin through the written kubeconfig."""
        from kubernetes import config as kube_config  # noqa: PLC0415 - keeps `devstack status` light

        if not self.kubeconfig_path.is_file():
            raise DevstackError("kube_not_started", f"no kubeconfig at {self.kubeconfig_path}; start kube")
        return kube_config.new_client_from_config(config_file=str(self.kubeconfig_path))

    def bootstrap(self) -> None:
        """Create the namespaces and apply the CRDs (idempotent), then wait until each CRD is Established."""
        from kubernetes import client  # noqa: PLC0415

        with self.api_client() as api:
            for namespace in NAMESPACES:
                ensure_namespace(api, namespace)
            names = [apply_crd(api, doc) for doc in crd_documents(self.source_dir / "crds")]
            extensions = client.ApiextensionsV1Api(api)
            for name in names:
                wait_crd_established(extensions, name, timeout=60)
