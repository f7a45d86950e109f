#!/usr/bin/env bash
# Environment that points the pipeline at the local stack; sourced by the demo and the end-to-end tests.
# The passwords are the local stack's throwaway ones (overridable); nothing here reaches a real cluster.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TORGHUT_DEVSTACK_POSTGRES_PASSWORD="${TORGHUT_DEVSTACK_POSTGRES_PASSWORD:-devstack}"
export TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD="${TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD:-devstack}"
export TORGHUT_SIM_TEMPLATE="${TORGHUT_SIM_TEMPLATE:-$repo/config/local-trading-day-template.yaml}"
export TORGHUT_SIM_OUTPUT_ROOT="${TORGHUT_SIM_OUTPUT_ROOT:-$repo/artifacts/simulations}"
export TORGHUT_SIM_KUBECONFIG="${TORGHUT_SIM_KUBECONFIG:-${TORGHUT_DEVSTACK_STATE:-$repo/.devstack}/kube/kubeconfig}"
# The repository root is the local deployment's DAGSTER_HOME: its dagster.yaml is the instance file.
export DAGSTER_HOME="${DAGSTER_HOME:-$repo}"
export DAGSTER_PG_HOST=127.0.0.1
export DAGSTER_PG_PORT="${TORGHUT_DEVSTACK_POSTGRES_PORT:-55432}"
export DAGSTER_PG_DB=dagster
export DAGSTER_PG_USERNAME=postgres
export DAGSTER_PG_PASSWORD="$TORGHUT_DEVSTACK_POSTGRES_PASSWORD"
# The local template names the stack's default ports; a stack moved with TORGHUT_DEVSTACK_*_PORT is reached
# through the deployment's connection overrides instead, so the pipeline never talks to another stack.
_pg="postgresql://postgres@127.0.0.1:${TORGHUT_DEVSTACK_POSTGRES_PORT:-55432}"
export TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS="${TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${TORGHUT_DEVSTACK_KAFKA_PORT:-59092}}"
export TORGHUT_SIM_CLICKHOUSE_HTTP_URL="${TORGHUT_SIM_CLICKHOUSE_HTTP_URL:-http://127.0.0.1:${TORGHUT_DEVSTACK_CLICKHOUSE_PORT:-58123}}"
export TORGHUT_SIM_POSTGRES_ADMIN_DSN="${TORGHUT_SIM_POSTGRES_ADMIN_DSN:-$_pg/postgres}"
export TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE="${TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE:-$_pg/{db\}}"
unset _pg
