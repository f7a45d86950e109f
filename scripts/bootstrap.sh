#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv, then the locked Python environment in .venv.
# Sourced by the other scripts; idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.9.30"
fi
uv sync --frozen --quiet
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$PWD/.venv/bin:$PATH"

# The native Kafka engine (dump and replay hot path), rebuilt when its sources change.
engine_src=native/kafka-engine
engine_bin=.venv/bin/torghut-kafka-engine
engine_stamp=.venv/.torghut-kafka-engine.sha256
engine_sum=$(cat "$engine_src"/go.mod "$engine_src"/go.sum "$engine_src"/*.go | sha256sum | cut -d' ' -f1)
if [[ ! -x "$engine_bin" || "$(cat "$engine_stamp" 2>/dev/null)" != "$engine_sum" ]]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "bootstrap: Go is needed to build $engine_src (https://go.dev/dl/)" >&2
    exit 1
  fi
  (cd "$engine_src" && go build -trimpath -o "../../$engine_bin" .)
  echo "$engine_sum" >"$engine_stamp"
fi
