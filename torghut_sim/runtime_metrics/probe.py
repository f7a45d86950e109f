"""Scraping the runtime's `/metrics` before the replay and after the monitor, into the run directory.

A scrape never fails the simulation: a missing URL, a refused connection or malformed text is recorded
with its reason code and the report explains the gap. Files: `runtime-metrics/before.prom`, `after.prom`
(the raw text) and `runtime-metrics/runtime-metrics.json` (status of each scrape and the deltas).
"""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from torghut_sim.atomic_file import write_json_atomic, write_text_atomic
from torghut_sim.errors import TorghutSimError
from torghut_sim.layout import RunPaths
from torghut_sim.runtime_metrics.deltas import compute_deltas
from torghut_sim.runtime_metrics.discovery import redact_url
from torghut_sim.runtime_metrics.prometheus import parse_metrics

log = logging.getLogger(__name__)

SCHEMA_VERSION = "torghut.runtime-metrics.v1"
SCRAPE_TIMEOUT_SECONDS = 10.0
MAX_BYTES = 16 << 20
UrlResolver = Callable[[], "tuple[str, str] | None"]


class ScrapeError(TorghutSimError):
    """The metrics endpoint did not answer with a readable exposition."""

    reason = "metrics_scrape_failed"


def fetch_metrics(url: str, timeout: float = SCRAPE_TIMEOUT_SECONDS) -> str:
    """GET the exposition text; ScrapeError on any transport or HTTP failure."""
    request = urllib.request.Request(url, headers={"Accept": "text/plain; version=0.0.4"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ScrapeError(f"{redact_url(url)} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise ScrapeError(f"{redact_url(url)} unreachable: {why}") from None
    if len(body) > MAX_BYTES:
        raise ScrapeError(f"{redact_url(url)} answered more than {MAX_BYTES} bytes")
    return body.decode("utf-8", errors="replace")


class RuntimeMetricsProbe:
    """The two scrapes of one run and their record."""

    def __init__(self, paths: RunPaths, resolve: UrlResolver, fetch: Callable[[str], str] = fetch_metrics):
        self.paths = paths
        self.resolve = resolve
        self.fetch = fetch
        self.record: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "status": "not_scraped"}
        self._before: str | None = None

    def _scrape(self, which: str) -> str | None:
        entry: dict[str, Any] = {"status": "failed", "scraped_at": datetime.now(UTC).isoformat()}
        text: str | None = None
        try:
            found = self.resolve()
            if found is None:
                entry.update(status="not_configured", reason="metrics_url_unknown")
                entry["message"] = "neither runtime.metrics_url nor the Service status names a metrics URL"
            else:
                url, source = found
                self.record.update(url=redact_url(url), url_source=source)
                text = self.fetch(url)
                parse_metrics(text)
                target = self.paths.runtime_metrics_dir / f"{which}.prom"
                write_text_atomic(target, text)
                entry.update(status="ok", file=target.name, sha256=hashlib.sha256(text.encode()).hexdigest())
        # The simulation must not fail for its telemetry: record why, let the report say so.
        except TorghutSimError as exc:
            entry.update(reason=exc.reason, message=exc.message)
            text = None
        except Exception as exc:  # noqa: BLE001 - e.g. a Kubernetes API failure while resolving
            entry.update(reason="metrics_scrape_failed", message=f"{type(exc).__name__}: {exc}"[:300])
            text = None
        if entry["status"] != "ok":
            log.warning(
                "runtime metrics %s scrape: [%s] %s", which, entry.get("reason"), entry.get("message")
            )
        self.record[which] = entry
        return text

    def _save(self) -> None:
        write_json_atomic(self.paths.runtime_metrics, self.record)

    def scrape_before(self) -> dict[str, Any]:
        """The scrape before the replay (recorded at once, so a crashed run still keeps it)."""
        self.record = {"schema_version": SCHEMA_VERSION, "status": "incomplete"}
        self._before = self._scrape("before")
        self._save()
        return dict(self.record["before"])

    def scrape_after(self) -> dict[str, Any]:
        """The scrape after the monitor, and the deltas when both scrapes succeeded."""
        after = self._scrape("after")
        before = self._before
        if before is not None and after is not None:
            deltas = compute_deltas(parse_metrics(before), parse_metrics(after))
            self.record.update(status="ok", deltas=deltas.as_json())
            if deltas.restarted:
                log.warning("runtime metrics: counters went down (runtime restarted): %s", deltas.restarted)
        else:
            self.record["status"] = "unavailable"
        self._save()
        return {"status": self.record["status"], "after": self.record["after"]}
