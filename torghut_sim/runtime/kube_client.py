"""Kubernetes access for runtime control: clients from a kubeconfig, reads and patches of objects as dicts.

Every object (ConfigMap or custom resource) is handled as the JSON the API server returns, addressed by a
`Resource` and a namespace/name. Patches carry the resourceVersion they were computed from, so a concurrent
write makes the server answer 409 instead of silently merging.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml

from torghut_sim.errors import TorghutSimError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(TorghutSimError):
    """The API server refused or failed a request."""

    reason = "kube_api_error"

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason)
        self.status = status


class PatchConflictError(KubeApiError):
    """An object changed under a guarded patch (409), or holds a value the run did not expect."""

    reason = "patch_conflict"


class AlreadyExistsError(KubeApiError):
    """A create found the object already there (409)."""

    reason = "already_exists"


class KubeUnreachableError(KubeApiError):
    """The API server could not be reached (refused, reset, timed out)."""

    reason = "kube_unreachable"


class ObjectNotFoundError(KubeApiError):
    """A required object does not exist."""

    reason = "object_not_found"


class KubeconfigError(TorghutSimError):
    """The kubeconfig could not be loaded."""

    reason = "kubeconfig_invalid"


@dataclass(frozen=True)
class Resource:
    """An API resource: group (empty for core), version, plural and kind."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this resource carry."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path of the collection, an object, or an object's subresource."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{base}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            path += f"/{name}"
            if subresource:
                path += f"/{subresource}"
        return path


CONFIGMAP = Resource("", "v1", "configmaps", "ConfigMap")
SECRET = Resource("", "v1", "secrets", "Secret")
APPLICATION = Resource("argoproj.io", "v1alpha1", "applications", "Application")
APPLICATIONSET = Resource("argoproj.io", "v1alpha1", "applicationsets", "ApplicationSet")
KNATIVE_SERVICE = Resource("serving.knative.dev", "v1", "services", "Service")
KNATIVE_REVISION = Resource("serving.knative.dev", "v1", "revisions", "Revision")
FLINK_DEPLOYMENT = Resource("flink.apache.org", "v1beta1", "flinkdeployments", "FlinkDeployment")


@dataclass(frozen=True)
class ObjectRef:
    """One object: its resource, namespace and name."""

    resource: Resource
    namespace: str
    name: str

    def describe(self) -> str:
        """`Kind/name` in namespace, for messages."""
        return f"{self.resource.kind}/{self.name} (namespace {self.namespace})"

    def kubectl_target(self) -> str:
        """The `kubectl` resource argument, e.g. `applicationsets.argoproj.io/product`."""
        plural = (
            f"{self.resource.plural}.{self.resource.group}" if self.resource.group else self.resource.plural
        )
        return f"{plural}/{self.name}"


def api_client_from_kubeconfig(path: Path) -> Any:
    """A `kubernetes.client.ApiClient` for the current context of a kubeconfig file."""
    # Imported on first use: the client package takes seconds to import, and every Dagster step and
    # CLI start-up would pay for it even when it never talks to the cluster.
    from kubernetes import config as kube_config  # noqa: PLC0415

    if not path.is_file():
        raise KubeconfigError(f"no kubeconfig at {path}")
    try:
        return kube_config.new_client_from_config(config_file=str(path))
    # A malformed file surfaces from the loader as YAML, type or key errors, not only its own exception.
    except (kube_config.ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise KubeconfigError(f"cannot load kubeconfig {path}: {first}") from None


def _error(exc: Any, what: str) -> KubeApiError:
    status: int | None = getattr(exc, "status", None)
    detail = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            detail = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            detail = str(body)[:300]
    message = f"{what}: HTTP {status} {detail or getattr(exc, 'reason', '')}".strip()
    if status == 409:
        return PatchConflictError(message, status)
    if status == 404:
        return ObjectNotFoundError(message, status)
    return KubeApiError(message, status)


class Kube:
    """Reads, creates, patches and deletes objects as plain JSON dicts through one ApiClient."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Kube:
        """A client for the current context of a kubeconfig file."""
        return cls(api_client_from_kubeconfig(path))

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.api_client.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        from kubernetes.client import ApiException  # noqa: PLC0415 - see api_client_from_kubeconfig

        try:
            result = self.api_client.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=True,
            )
        except ApiException as exc:
            raise _error(exc, what) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Transport failures carry no status; they must still be a reason code, not a traceback.
            why = f"{what}: the API server is unreachable ({type(exc).__name__})"
            raise KubeUnreachableError(why) from exc
        return result if isinstance(result, dict) else {}

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self._call("GET", ref.resource.path(ref.namespace, ref.name), f"get {ref.describe()}")
        except ObjectNotFoundError:
            return None

    def require(self, ref: ObjectRef) -> dict[str, Any]:
        """The object; a missing one is an error."""
        obj = self.get(ref)
        if obj is None:
            raise ObjectNotFoundError(f"{ref.describe()} does not exist")
        return obj

    def create(self, ref: ObjectRef, body: dict[str, Any]) -> dict[str, Any]:
        """Create the object; AlreadyExistsError when the name is taken."""
        doc = {
            "apiVersion": ref.resource.api_version,
            "kind": ref.resource.kind,
            **body,
            "metadata": {**body.get("metadata", {}), "name": ref.name, "namespace": ref.namespace},
        }
        try:
            return self._call("POST", ref.resource.path(ref.namespace), f"create {ref.describe()}", doc)
        except PatchConflictError as exc:
            raise AlreadyExistsError(exc.message, exc.status) from exc

    def json_patch(
        self, ref: ObjectRef, ops: list[dict[str, Any]], subresource: str | None = None
    ) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch; a stale resourceVersion in it is a PatchConflictError (409)."""
        path = ref.resource.path(ref.namespace, ref.name, subresource)
        return self._call("PATCH", path, f"patch {ref.describe()}", ops, JSON_PATCH)

    def merge_patch(
        self, ref: ObjectRef, body: dict[str, Any], subresource: str | None = None
    ) -> dict[str, Any]:
        """Apply an RFC 7386 merge patch (a `metadata.resourceVersion` in it makes it conditional)."""
        path = ref.resource.path(ref.namespace, ref.name, subresource)
        return self._call("PATCH", path, f"patch {ref.describe()}", body, MERGE_PATCH)

    def delete(self, ref: ObjectRef, resource_version: str | None = None) -> bool:
        """Delete the object (only at that resourceVersion when given); False when it was already gone."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if resource_version is not None:
            body["preconditions"] = {"resourceVersion": resource_version}
        try:
            self._call("DELETE", ref.resource.path(ref.namespace, ref.name), f"delete {ref.describe()}", body)
        except ObjectNotFoundError:
            return False
        return True
