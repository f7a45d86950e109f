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
