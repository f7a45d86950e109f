"""Where the runtime serves `/metrics`: the manifest's `runtime.metrics_url`, else the Knative Service.

The Service carries it in `status.annotations` (Knative's own place for extra status): the local stack's
reference runtime writes `torghut.dev/metrics-url` there once it serves; a deployment whose runtime does
not can set `runtime.metrics_url` in the manifest instead. Neither → no scrape, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.kube_client import KNATIVE_SERVICE, Kube, ObjectRef

METRICS_URL_ANNOTATION = "torghut.dev/metrics-url"


class MetricsUrlError(TorghutSimError):
    """A metrics URL that is not plain http(s)."""

    reason = "metrics_url_invalid"


def checked_url(url: str) -> str:
    """The URL itself when it is http(s) with a host; MetricsUrlError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MetricsUrlError(f"metrics URL must be http(s)://host[:port]/path, got {redact_url(url)!r}")
    return urlunsplit(parts)


def redact_url(url: str) -> str:
    """The URL without any user:password part, for logs and artifacts."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def service_metrics_url(service: Mapping[str, Any] | None) -> str | None:
    """The URL a Knative Service's status announces, if any."""
    annotations = ((service or {}).get("status") or {}).get("annotations") or {}
    value = annotations.get(METRICS_URL_ANNOTATION) if isinstance(annotations, Mapping) else None
    return str(value) if value else None


def resolve_metrics_url(configured: str | None, service: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(url, source) with source `manifest` or `service_status`; None when neither names one."""
    if configured:
        return checked_url(configured), "manifest"
    announced = service_metrics_url(service)
    return (checked_url(announced), "service_status") if announced else None


def knative_url_resolver(
    kube: Kube, namespace: str, service: str, configured: str | None
) -> Callable[[], tuple[str, str] | None]:
    """A resolver reading the live Service at scrape time (only when the manifest names no URL)."""

    def resolve() -> tuple[str, str] | None:
        live = None if configured else kube.get(ObjectRef(KNATIVE_SERVICE, namespace, service))
        return resolve_metrics_url(configured, live)

    return resolve
