#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the local stack on first use, runs the linters,
# the type checker, the Dagster definitions check and every test. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
devstack install
ruff check .
mypy
dg check defs
pytest "$@"
