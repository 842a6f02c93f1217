#!/usr/bin/env bash
# The static checks CI runs before the tests: the layering (import-linter), lint and
# formatting (ruff), types (mypy on compiler_opt/ and mlgo/) and module size; settings in
# pyproject.toml, reasons in docs/architecture.md. Any failure fails the run.
# Needs scripts/bootstrap.sh first (it makes .venv and .venv-lint).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lint=.venv-lint/bin
failed=()
step() {
  local name="$1"
  shift
  printf 'check: %s\n' "$name" >&2
  "$@" || failed+=("$name")
}
step "layers (import-linter)" env PYTHONPATH="$PWD" "$lint/lint-imports" --no-cache
step "lint (ruff check)" "$lint/ruff" check .
step "format (ruff format --check)" "$lint/ruff" format --check .
step "types (mypy)" "$lint/mypy" --python-executable .venv/bin/python
step "module size (<= 400 lines outside tests/)" "$lint/python" - <<'PY'
import subprocess, sys
files = subprocess.run(["git", "ls-files", "*.py"], capture_output=True, text=True, check=True).stdout.split()
big = [(n, f) for f in files if not f.startswith("tests/") for n in [sum(1 for _ in open(f, encoding="utf-8"))] if n > 400]
for lines, name in sorted(big, reverse=True):
    print(f"{name}: {lines} lines (split it: one job per module)", file=sys.stderr)
sys.exit(1 if big else 0)
PY
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'check: FAILED: %s\n' "${failed[*]}" >&2
  printf 'check: fix them, or run `%s/ruff check --fix . && %s/ruff format .` for what ruff can fix\n' "$lint" "$lint" >&2
  exit 1
fi
printf 'check: all passed\n' >&2
