#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh), then run the whole test suite with the real clang.
# The static checks (scripts/check.sh: layers, lint, format, types) run first.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m "not slow"`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
scripts/check.sh
exec .venv/bin/python -m pytest -ra "$@"
