#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the local stack on first use, runs the linters,
# the type checker, the native engine's Go checks, the Dagster definitions check and every test.
# Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
devstack install
ruff check .
ruff format --check .
mypy
# The native Kafka engine's own checks and tests (the Python tests drive it against the real broker).
(cd native/kafka-engine && test -z "$(gofmt -l .)" && go vet ./... && go test ./...)
# The definitions check needs no instance database: with the stack's DAGSTER_PG_* exported (sourced
# scripts/local-env.sh) while its Postgres is stopped, it would retry the connection and fail.
env -u DAGSTER_PG_HOST -u DAGSTER_PG_PORT -u DAGSTER_PG_DB -u DAGSTER_PG_USERNAME -u DAGSTER_PG_PASSWORD \
  dg check defs
pytest "$@"
