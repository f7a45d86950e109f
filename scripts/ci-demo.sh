#!/usr/bin/env bash
# The README's main command as a new user meets it: the local stack stopped, its state wiped (the build
# cache is kept), the demo's artifacts removed, then `bash scripts/demo.sh` from cold. Fails unless the
# demo exits 0 and prints its verdict line. Run by .ci/run after the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
state="${TORGHUT_DEVSTACK_STATE:-$PWD/.devstack}"
.venv/bin/devstack down >/dev/null 2>&1 || true
rm -rf "$state" artifacts/simulations storage history logs schedules
log="$(mktemp -t torghut-demo.XXXXXX.log)"
started=$(date +%s)
demo_status=0
bash scripts/demo.sh 2>&1 | tee "$log" || demo_status=$?
echo "ci-demo: demo from cold took $(($(date +%s) - started)) s (exit $demo_status)"
.venv/bin/devstack down >/dev/null 2>&1 || true
if [[ "$demo_status" -ne 0 ]]; then
  echo "ci-demo: scripts/demo.sh failed from a cold stack" >&2
  exit 1
fi
if ! grep -Eq '^verdict: (PASS|WARN|FAIL)$' "$log"; then
  echo "ci-demo: scripts/demo.sh did not print its verdict line" >&2
  exit 1
fi
echo "ci-demo: the demo ran from cold and printed its verdict"
