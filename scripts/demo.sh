#!/usr/bin/env bash
# The main job: brings up the local stack of real servers and reports its health.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
devstack up
devstack status
