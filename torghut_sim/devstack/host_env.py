"""The environment a pipeline process on this host (`dg dev`, `dg launch`) runs with against the stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from torghut_sim.devstack.config import REPO_ROOT, StackConfig


def host_pipeline_env(home: Path, database: str, output_root: Path, kubeconfig: Path) -> dict[str, str]:
    """`scripts/local-env.sh`'s environment with this instance's home, database and output root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORGHUT_SIM_", "DAGSTER_"))}
    venv_bin = str(Path(sys.executable).parent)
    password = env.setdefault("TORGHUT_DEVSTACK_POSTGRES_PASSWORD", "devstack")
    env.setdefault("TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", "devstack")
    ports = StackConfig().ports
    pg = f"postgresql://postgres@127.0.0.1:{ports.postgres}"
    env.update(
        # The local template names the stack's default ports; this stack's (TORGHUT_DEVSTACK_*) may differ.
        TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{ports.kafka}",
        TORGHUT_SIM_CLICKHOUSE_HTTP_URL=f"http://127.0.0.1:{ports.clickhouse}",
        TORGHUT_SIM_POSTGRES_ADMIN_DSN=f"{pg}/postgres",
        TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE=f"{pg}/{{db}}",
    )
    env.update(
        TORGHUT_SIM_TEMPLATE=str(REPO_ROOT / "config" / "local-trading-day-template.yaml"),
        TORGHUT_SIM_OUTPUT_ROOT=str(output_root),
        TORGHUT_SIM_KUBECONFIG=str(kubeconfig),
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST="127.0.0.1",
        DAGSTER_PG_PORT=str(ports.postgres),
        DAGSTER_PG_DB=database,
        DAGSTER_PG_USERNAME="postgres",
        DAGSTER_PG_PASSWORD=password,
        # `dg` warns when the active venv differs from the project's; run as if it were activated.
        VIRTUAL_ENV=str(Path(sys.executable).parent.parent),
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    return env
