"""A browser check of the Dagster UI: `dg dev` on loopback, one trading day materialized, and headless
Chromium (Debian's packages) reading the asset graph, the trading-day partitions and the check results.

The webserver runs with a throwaway DAGSTER_HOME holding a copy of the project's `dagster.yaml` (with no
DAGSTER_PG_* variable its storage is SQLite there) and a throwaway output root, so nothing outside the
pytest tmp dir is written; the pages are the ones a user sees, sign-up dialog settings included.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from assets.partitions import trading_day_partitions
from resources import DeploymentSettings
from tests.integration._browser import headless_chromium, open_page, page_text, wait_for_texts, wait_until
from tests.integration._graphql import LAUNCH_RUN, RUN_STATUS, graphql
from tests.integration._tcp_proxy import free_port
from torghut_sim.demo_summary import day_page

pytestmark = pytest.mark.timeout(900)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_TEMPLATE = REPO_ROOT / "config" / "local-trading-day-template.yaml"
DAY = "2026-03-06"  # a Friday, an ordinary NYSE session
ASSETS = (
    "simulation_manifest",
    "source_dump",
    "simulation_outputs",
    "simulation_report",
    "simulation_catalog",
)
DATE_LINE = re.compile(r"\d{4}-\d{2}-\d{2}")
CHECKS = ("full_day_window", "isolation_guards")
# The plots by partition graph the latest 120 partition keys: the range plotted is the latest two days.
PLOTTED_DAYS: tuple[str, ...] = tuple(
    trading_day_partitions(DeploymentSettings().partitions_start).get_partition_keys()[-2:]
)
# An integer figure of every manifest materialization (390 on an ordinary session).
PLOTTED_FIGURE = "session_minutes"
STARTUP_TIMEOUT = 240.0
RUN_TIMEOUT = 300.0
# The project's own instance file: with no DAGSTER_PG_* variable its storage is SQLite in the temp home.
INSTANCE_FILE = REPO_ROOT / "dagster.yaml"

LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename
      ... on PythonError { message }
      ... on RepositoryLocation { repositories { name assetNodes { assetKey { path } } } } } } } } }
"""


@dataclass(frozen=True)
class DagsterUI:
    """A running `dg dev`: where to reach it, which code location serves the project, its log."""

    base_url: str
    location: str
    repository: str
    assets: frozenset[str]
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request; the `data` of the answer."""
        return graphql(self.base_url, query, variables)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _server_env(home: Path, output_root: Path) -> dict[str, str]:
    """The parent environment without any deployment or Dagster settings, plus the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORGHUT_SIM_", "DAGSTER_"))}
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        DAGSTER_HOME=str(home),
        TORGHUT_SIM_OUTPUT_ROOT=str(output_root),
        TORGHUT_SIM_TEMPLATE=str(LOCAL_TEMPLATE),
        # `dg` warns when the active venv differs from the project's; run as if it were activated.
        VIRTUAL_ENV=str(Path(sys.executable).parent.parent),
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dg dev exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout:.0f}s:\n{log.read_text(errors='replace')[-4000:]}")


def _project_location(ui_base: str, log: Path, timeout: float) -> tuple[str, str, frozenset[str]]:
    """The location, repository and asset names serving the project, once the code location has loaded."""
    probe = DagsterUI(ui_base, "", "", frozenset(), log)
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        seen = probe.graphql(LOCATIONS)["workspaceOrError"]
        for entry in seen.get("locationEntries", []):
            loaded = entry.get("locationOrLoadError") or {}
            if loaded.get("__typename") == "PythonError":
                pytest.fail(f"code location {entry['name']} failed to load:\n{loaded['message']}")
            for repo in loaded.get("repositories", []):
                keys = {"/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]}
                if "simulation_manifest" in keys:
                    return entry["name"], repo["name"], frozenset(keys)
        time.sleep(2)
    pytest.fail(f"code location never served simulation_manifest: {seen}\n{probe.log_tail()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop dg dev and everything it started (its own process group), forcefully after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        # `dagster dev` does not always finish its shutdown on SIGTERM; the instance is throwaway anyway.
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """`dg dev` on a free loopback port with a temporary DAGSTER_HOME and output root."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_FILE, home / "dagster.yaml")
    output_root = root / "simulations"
    port = free_port()
    log = root / "dg-dev.log"
    dg = Path(sys.executable).parent / "dg"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(dg), "dev", "--host", "127.0.0.1", "--port", str(port), "--no-check-yaml"],
            cwd=REPO_ROOT,
            env=_server_env(home, output_root),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/server_info", proc, log, STARTUP_TIMEOUT)
        location, repository, assets = _project_location(base, log, STARTUP_TIMEOUT)
        yield DagsterUI(base, location, repository, assets, log)
    finally:
        _stop(proc)


def _materialize_manifest(dagster_ui: DagsterUI, day: str) -> str:
    """`simulation_manifest` (and its checks) materialized for `day` through the webserver; the run id."""
    params = {
        "selector": {
            "repositoryLocationName": dagster_ui.location,
            "repositoryName": dagster_ui.repository,
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": ["simulation_manifest"]}],
        },
        # No run config: the project's executor already runs the asset and its checks in one process.
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
    }
    launched = dagster_ui.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = str(launched["run"]["runId"])
    deadline = time.monotonic() + RUN_TIMEOUT
    status = "?"
    while time.monotonic() < deadline:
        status = dagster_ui.graphql(RUN_STATUS, {"id": run_id})["runOrError"].get("status", "?")
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{dagster_ui.log_tail()}"
    return run_id


@pytest.fixture(scope="session")
def materialized_day(dagster_ui: DagsterUI) -> str:
    """`simulation_manifest` (and its checks) materialized for DAY through the webserver; the run id."""
    return _materialize_manifest(dagster_ui, DAY)


@pytest.fixture(scope="session")
def materialized_range(dagster_ui: DagsterUI) -> tuple[str, ...]:
    """`simulation_manifest` materialized for each of PLOTTED_DAYS: a range of partitions to plot over."""
    for day in PLOTTED_DAYS:
        _materialize_manifest(dagster_ui, day)
    return PLOTTED_DAYS


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the session, with a fresh profile."""
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def _shot(driver: WebDriver, path: Path) -> None:
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _label_shows(label: str, name: str) -> bool:
    """A graph node label shows `name`, in full or middle-truncated with an ellipsis at low zoom."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail)


def _graph_labels(driver: WebDriver, names: frozenset[str]) -> list[str] | None:
    """The node labels (first line of each node) of the lineage graph, once every name is drawn."""
    texts = driver.execute_script(
        # An SVG element has no innerText; the node's HTML root inside the foreignObject has.
        "return Array.from(document.querySelectorAll('svg foreignObject'))"
        ".map(e => e.firstElementChild ? e.firstElementChild.innerText : '')"
    )
    labels = [t.strip().splitlines()[0].strip() for t in texts or [] if t and t.strip()]
    drawn = all(any(_label_shows(label, name) for label in labels) for name in names)
    return labels if drawn else None


def _listed_partitions(driver: WebDriver, prefix: str) -> set[str]:
    """The partition keys (whole lines that are a date) starting with `prefix` on the page."""
    lines = (line.strip() for line in page_text(driver).splitlines())
    return {line for line in lines if DATE_LINE.fullmatch(line) and line.startswith(prefix)}


def _filter_partitions(driver: WebDriver, prefix: str, expected: set[str]) -> set[str]:
    """Type `prefix` into the partition name filter; the keys listed once the list shows `expected`."""
    box = driver.find_element(By.CSS_SELECTOR, "input[placeholder^='Filter by name']")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(prefix)
    # On a timeout the caller's assertion reports what was listed instead.
    with contextlib.suppress(AssertionError):
        wait_until(
            driver, lambda d: _listed_partitions(d, prefix) == expected, 60, f"partitions {sorted(expected)}"
        )
    return _listed_partitions(driver, prefix)


def test_asset_graph_renders_every_asset(dagster_ui: DagsterUI, browser: WebDriver, tmp_path: Path) -> None:
    assert set(ASSETS) <= dagster_ui.assets
    try:
        open_page(
            browser, dagster_ui.url("/asset-groups"), ["Global asset lineage", *sorted(dagster_ui.assets)]
        )
        labels = wait_until(
            browser,
            lambda d: _graph_labels(d, dagster_ui.assets),
            90,
            f"graph nodes {sorted(dagster_ui.assets)}",
        )
    finally:
        _shot(browser, tmp_path / "asset-graph.png")
    assert len(labels) == len(dagster_ui.assets), labels


def test_partitions_are_the_trading_days(
    dagster_ui: DagsterUI, materialized_day: str, browser: WebDriver, tmp_path: Path
) -> None:
    try:
        # The materialized day, selected: its materialization metadata renders in the detail pane.
        open_page(
            browser,
            # The page the demo's closing lines point to, on this webserver.
            day_page("simulation_manifest", DAY, dagster_ui.base_url),
            # 09:30 New York is 14:30 UTC on 6 March (before the DST switch on the 8th).
            ["Partitions Selected", "Materialized (1)", "trading_day", "window_start", f"{DAY}T14:30:00Z"],
        )
    finally:
        _shot(browser, tmp_path / "partition-detail.png")

    # The list alone from here on (no partition selected, so no dates from the detail pane's metadata).
    open_page(
        browser,
        dagster_ui.url("/assets/simulation_manifest?view=partitions"),
        ["Partitions Selected", "No partition selected"],
    )
    # Mon 2 .. Fri 6 and Mon 9 March are sessions; the weekend between is no partition.
    march = {"2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-09"}
    try:
        listed = _filter_partitions(browser, "2026-03-0", march)
    finally:
        _shot(browser, tmp_path / "partitions-march.png")
    assert listed == march
    assert not {"2026-03-07", "2026-03-08"} & listed

    # Good Friday (3 April) and the weekend after it are closed days.
    april = {"2026-04-01", "2026-04-02", "2026-04-06", "2026-04-07", "2026-04-08", "2026-04-09"}
    try:
        listed = _filter_partitions(browser, "2026-04-0", april)
    finally:
        _shot(browser, tmp_path / "partitions-april.png")
    assert listed == april
    assert not {"2026-04-03", "2026-04-04", "2026-04-05"} & listed


def test_checks_tab_shows_both_checks_passed(
    dagster_ui: DagsterUI, materialized_day: str, browser: WebDriver, tmp_path: Path
) -> None:
    try:
        text = open_page(
            browser,
            dagster_ui.url("/assets/simulation_manifest?view=checks"),
            ["Checks (2)", *CHECKS, "Succeeded", "Evaluation result", "Passed"],
        )
    finally:
        _shot(browser, tmp_path / "checks.png")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for check in CHECKS:
        # The check list shows each check's name with its latest status on the line after it.
        statuses = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == check]
        assert "Succeeded" in statuses, f"{check}: {statuses}"


def _plot_titles(driver: WebDriver) -> list[str] | None:
    """The titles of the plots drawn (each title is followed by its chart), once at least one is drawn."""
    titles = driver.execute_script(
        # Up from each chart's canvas to the block whose previous sibling is the plot's title.
        "return Array.from(document.querySelectorAll('canvas')).map(c => {"
        "  for (let e = c; e && e.parentElement; e = e.parentElement) {"
        "    const title = e.previousElementSibling ? e.previousElementSibling.innerText.trim() : '';"
        "    if (title) return title;"
        "  }"
        "  return '';"
        "})"
    )
    found = [str(t).strip() for t in titles or [] if t and str(t).strip()]
    return found or None


def test_numeric_metadata_plots_over_the_partitions(
    dagster_ui: DagsterUI, materialized_range: tuple[str, ...], browser: WebDriver, tmp_path: Path
) -> None:
    try:
        open_page(browser, dagster_ui.url("/assets/simulation_manifest"), ["Metadata", PLOTTED_FIGURE])
        plots = wait_until(
            browser,
            lambda d: next(
                (
                    b
                    for b in d.find_elements(By.XPATH, "//button[normalize-space()='Plots']")
                    if b.is_displayed()
                ),
                None,
            ),
            60,
            "the metadata section's Plots button",
        )
        plots.click()
        wait_for_texts(browser, ["When graphing values by partition", PLOTTED_FIGURE])
        titles = wait_until(browser, _plot_titles, 60, "a plot's chart")
    finally:
        _shot(browser, tmp_path / "metadata-plots.png")
    assert PLOTTED_FIGURE in titles, titles
    # Text metadata (the run id, the window) is no plot: only numbers are graphed.
    assert "run_id" not in titles and "window_start" not in titles, titles
