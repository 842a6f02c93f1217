#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh), then run the main job: `mlgo demo` (arguments pass through).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/mlgo demo "$@"
