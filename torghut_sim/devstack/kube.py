"""The local stack's real Kubernetes API: etcd and kube-apiserver built from the Go module proxy.

Owns the build of `devstack/kube/` (one binary that runs either server), the throwaway credentials (service
account key, admin token, serving certificate), the kubeconfig, and the namespaces and CRDs the pipeline
needs (Argo CD Application/ApplicationSet, Knative Service, FlinkDeployment).
"""

from __future__ import annotations

import abc
import base64
import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import port_open, read_pid, run_checked, spawn, wait_until
from torghut_sim.devstack.service import Service

KUBERNETES_VERSION = "v1.35.4"
# The etcd server that k8s.io/kubernetes v1.35.4 itself requires; it is linked into the same binary.
ETCD_VERSION = "v3.6.5"
BINARY_NAME = "kube-devstack"
NAMESPACES = ("argocd", "torghut")
ADMIN_USER = "devstack-admin"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
_GO_FALLBACK = Path("/usr/local/go/bin/go")
# Build inputs whose change triggers a rebuild; the ldflags below are hashed with them.
_BUILD_INPUTS = ("go.mod", "go.sum", "main.go")
_MAJOR, _MINOR, _PATCH = KUBERNETES_VERSION.removeprefix("v").split(".")
_LDFLAGS = " ".join(
    [
        "-s",
        "-w",
        f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
        f"-X k8s.io/component-base/version.gitMajor={_MAJOR}",
        f"-X k8s.io/component-base/version.gitMinor={_MINOR}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
    ]
)


def build_inputs_hash(source_dir: Path) -> str:
    """SHA-256 over the Go module's build inputs and the link flags; the binary is rebuilt when it moves."""
    digest = hashlib.sha256(_LDFLAGS.encode())
    for name in _BUILD_INPUTS:
        path = source_dir / name
        if not path.is_file():
            raise DevstackError("kube_source_missing", f"build input {path} is missing")
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def go_binary() -> str:
    """The `go` tool: from PATH, else the standard /usr/local/go install."""
    found = shutil.which("go")
    if found:
        return found
    if _GO_FALLBACK.is_file():
        return str(_GO_FALLBACK)
    raise DevstackError("go_missing", "the Go toolchain is needed to build kube-apiserver; install Go ≥1.25")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent starts (test workers, CLI) build and set up once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def token_file_line(token: str) -> str:
    """One line of kube-apiserver's static token file: the admin, in group system:masters."""
    return f"{token},{ADMIN_USER},{ADMIN_USER},system:masters\n"


def render_kubeconfig(server: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    """A kubeconfig for the admin token against this server, trusting its serving certificate."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "devstack",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
                },
            }
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": ADMIN_USER}}],
        "current-context": "devstack",
    }


def crd_documents(crd_dir: Path) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions checked in under `devstack/kube/crds/`, in file-name order."""
    docs: list[dict[str, Any]] = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                if doc.get("kind") != "CustomResourceDefinition":
                    raise DevstackError("kube_bad_crd", f"{path} holds a {doc.get('kind')}, not a CRD")
                docs.append(doc)
    return docs


class GoBinaryService(Service):
    """A server whose multi-call binary is built from a checked-in Go module into the build cache."""

    binary_name: str = ""

    @property
    @abc.abstractmethod
    def source_dir(self) -> Path:
        """The checked-in Go module the binary is built from."""

    @property
    def binary(self) -> Path:
        """The built multi-call binary in the persistent build cache."""
        return self.build_dir / self.binary_name

    @property
    def stamp_file(self) -> Path:
        """The hash of the build inputs the cached binary was built from."""
        return self.build_dir / f"{self.binary_name}.inputs-sha256"

    def build_needed(self) -> bool:
        """True when the cached binary is missing or was built from other inputs."""
        if not self.binary.is_file():
            return True
        try:
            return self.stamp_file.read_text().strip() != build_inputs_hash(self.source_dir)
        except OSError:
            return True

    def _build_binary(self, what: str) -> None:
        """`go build` the binary when missing or stale, once across concurrent starts; `what` names it."""
        if not self.build_needed():
            return
        with file_lock(self.build_dir / ".build.lock"):
            if not self.build_needed():
                return
            wanted = build_inputs_hash(self.source_dir)
            go = go_binary()
            partial = self.binary.with_suffix(".partial")
            env = {
                **os.environ,
                # go.sum is checked in; -mod=mod lets a fresh module cache fetch what go.sum pins.
                "GOFLAGS": "-mod=mod",
                "CGO_ENABLED": "0",
                "PATH": f"{Path(go).parent}:{os.environ.get('PATH', '')}",
            }
            run_checked(
                [go, "build", "-ldflags", _LDFLAGS, "-o", str(partial), "."],
                f"go build of {what}",
                cwd=self.source_dir,
                env=env,
            )
            partial.replace(self.binary)
            self.stamp_file.write_text(wanted + "\n")


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


def ensure_namespace(api: Any, name: str) -> bool:
    """Create a namespace unless it exists; True when it was created."""
    from kubernetes import client  # noqa: PLC0415

    core = client.CoreV1Api(api)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def apply_crd(api: Any, doc: dict[str, Any]) -> str:
    """Create a CRD, or replace it when it exists (so edits to the checked-in file take effect)."""
    from kubernetes import client  # noqa: PLC0415

    extensions = client.ApiextensionsV1Api(api)
    name: str = doc["metadata"]["name"]
    try:
        extensions.create_custom_resource_definition(doc)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        current = extensions.read_custom_resource_definition(name)
        body = {**doc, "metadata": {**doc["metadata"], "resourceVersion": current.metadata.resource_version}}
        extensions.replace_custom_resource_definition(name, body)
    return name


def wait_crd_established(extensions: Any, name: str, timeout: float) -> None:
    """Poll a CRD until its Established condition is True."""
    deadline = time.monotonic() + timeout
    while True:
        crd = extensions.read_custom_resource_definition(name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if time.monotonic() >= deadline:
            raise DevstackError("crd_not_established", f"CRD {name} not Established after {timeout:.0f}s")
        time.sleep(0.2)
