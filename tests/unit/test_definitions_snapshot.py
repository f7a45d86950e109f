"""The code location's shape against a checked-in snapshot, so a graph change shows in review.

Assets (group, kinds, deps, partitions, automation, code version), checks and whether they block, jobs
(assets, tags, pools of their steps), schedules, sensors and resource keys, from the definitions built
with no environment. After an intended change, refresh the snapshot and commit it with the change:

    TORGHUT_SIM_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_definitions_snapshot.py
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from resources import DeploymentSettings
from torghut_sim.definitions import build_definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
UPDATE_VARIABLE = "TORGHUT_SIM_UPDATE_SNAPSHOTS"


def _exclusion(exclusion: Any) -> str:
    """A cron exclusion as written; an excluded date as its New York date."""
    if isinstance(exclusion, str):
        return exclusion
    stamp = getattr(exclusion, "timestamp", exclusion)
    if isinstance(stamp, datetime):
        return stamp.strftime("%Y-%m-%d")
    return datetime.fromtimestamp(float(stamp), tz=ZoneInfo(exclusion.timezone)).strftime("%Y-%m-%d")


def _partitions(partitions: dg.PartitionsDefinition) -> dict[str, Any]:
    """A time-window partitions definition as its class, start, zone, format, cron and exclusions."""
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return {"type": type(partitions).__name__, "description": str(partitions)}
    return {
        "type": type(partitions).__name__,
        "start": partitions.start.isoformat(),
        "timezone": partitions.timezone,
        "fmt": partitions.fmt,
        "cron_schedule": partitions.cron_schedule,
        "exclusions": sorted(_exclusion(e) for e in partitions.exclusions or ()),
    }


def _partitions_id(partitions: dg.PartitionsDefinition | None) -> str | None:
    """How an asset names its partitions definition in the snapshot's `partitions` section."""
    return None if partitions is None else f"{type(partitions).__name__}: {partitions}"


def _condition(condition: dg.AutomationCondition[Any] | None) -> str | None:
    """An automation condition as its operator tree, e.g. `AND(SINCE(...), NOT(...))`."""
    if condition is None:
        return None
    if not condition.children:
        return condition.name
    return f"{condition.name}({', '.join(str(_condition(c)) for c in condition.children)})"


def _assets(repo: dg.RepositoryDefinition) -> dict[str, Any]:
    graph = repo.asset_graph
    shapes: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets_def = node.assets_def
        shapes[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": _partitions_id(node.partitions_def),
            "automation": _condition(assets_def.automation_conditions_by_key.get(key)),
            "code_version": assets_def.code_versions_by_key.get(key),
            "checks": {
                check.name: {"blocking": graph.get_check_spec(check).blocking}
                for check in sorted(graph.asset_check_keys, key=lambda c: c.name)
                if check.asset_key == key
            },
        }
    return shapes


def _jobs(repo: dg.RepositoryDefinition) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job: its shape is the assets'
        pools = {
            node.name: node.pool
            for node in job.graph.iterate_node_defs()
            if isinstance(node, dg.OpDefinition) and node.pool
        }
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "tags": dict(sorted(job.tags.items())),
            "pools": dict(sorted(pools.items())),
        }
    return jobs


def definitions_snapshot(defs: dg.Definitions) -> dict[str, Any]:
    """The reviewable shape of a code location, JSON-ready and deterministic."""
    repo = defs.get_repository_def()
    definitions = {
        _partitions_id(n.partitions_def): _partitions(n.partitions_def)
        for n in (repo.asset_graph.get(k) for k in repo.asset_graph.get_all_asset_keys())
        if n.partitions_def is not None
    }
    return {
        "partitions": dict(sorted(definitions.items())),
        "assets": _assets(repo),
        "jobs": _jobs(repo),
        "schedules": {
            s.name: {
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "job": s.job_name,
                "default_status": s.default_status.value,
            }
            for s in sorted(repo.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {
                "type": s.sensor_type.value,
                "jobs": sorted(t.job_name for t in s.targets),
                "minimum_interval_seconds": s.minimum_interval_seconds,
                "default_status": s.default_status.value,
            }
            for s in sorted(repo.sensor_defs, key=lambda s: s.name)
        },
        "resources": sorted(defs.resources or {}),
        "executor": defs.executor.name if isinstance(defs.executor, dg.ExecutorDefinition) else None,
    }


def _render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def test_definitions_match_the_checked_in_snapshot() -> None:
    current = _render(definitions_snapshot(build_definitions(DeploymentSettings.from_env({}))))
    if os.environ.get(UPDATE_VARIABLE) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.is_file(), f"no snapshot yet: run with {UPDATE_VARIABLE}=1 and commit {SNAPSHOT.name}"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert current == expected, (
        f"the definitions changed; if intended, refresh with {UPDATE_VARIABLE}=1 and commit the snapshot"
    )


def test_the_snapshot_records_blocking_pools_and_holidays() -> None:
    # The snapshot must hold what it claims to show, or a change of it would pass review unseen.
    defs = build_definitions(DeploymentSettings.from_env({}))
    shape = definitions_snapshot(defs)
    blocking = {
        (asset, name): check["blocking"]
        for asset, node in shape["assets"].items()
        for name, check in node["checks"].items()
    }
    assert blocking[("source_dump", "session_coverage")] is True
    assert blocking[("simulation_report", "verdict")] is False
    assert shape["jobs"]["simulate_trading_day"]["pools"] == {
        "simulate_on_runtime": "torghut_runtime_default"
    }
    trading_days = shape["partitions"][shape["assets"]["simulation_manifest"]["partitions"]]
    assert "2026-04-03" in trading_days["exclusions"]  # Good Friday
