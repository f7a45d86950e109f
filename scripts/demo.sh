#!/usr/bin/env bash
# The main job: one real trading day simulated end to end on the local stack, through Dagster.
#   bash scripts/demo.sh [YYYY-MM-DD]      (default 2026-03-06)
# Brings up the local stack (building it on first use), loads the production baseline, seeds the day's
# source topics, materializes the day's partition with `dg launch`, refreshes the DuckDB catalog, and
# prints the verdict, the report and how to look further.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
source scripts/local-env.sh
day="${1:-2026-03-06}"

devstack up
devstack baseline >/dev/null
# --reset: source topics holding later days (say from the tests) are cleared first, because a day
# appended behind them could not be found by its time window.
devstack seed-day "$day" --reset

dg launch --assets simulation_manifest,source_dump,replay_marker,simulation_outputs,simulation_report \
  --partition "$day"
dg launch --assets simulation_catalog

python -m torghut_sim.demo_summary --day "$day"
