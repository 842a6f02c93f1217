#!/usr/bin/env bash
# Idempotent set-up: a clang >= 17 with its LLVM tools, a .venv with the pinned
# dependencies (one pip call), and this package installed in editable mode.
# Re-running it when everything is present takes a few seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

have_clang() {
  local c
  for c in "${MLGO_CLANG:-}" clang-22 clang-21 clang-20 clang-19 clang-18 clang-17 clang; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    local major
    major=$("$c" --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\)\..*/\1/p' | head -n1)
    if [ -n "$major" ] && [ "$major" -ge 17 ]; then
      local bindir
      bindir=$(dirname "$(readlink -f "$(command -v "$c")")")
      if [ -x "$bindir/llvm-size" ] || command -v "llvm-size-$major" >/dev/null 2>&1; then
        command -v "ld.lld-$major" >/dev/null 2>&1 || [ -x "$bindir/ld.lld" ] || continue
        clang_major="$major" clang_bindir="$bindir"
        return 0
      fi
    fi
  done
  return 1
}

# apt_install WHY PACKAGE...: install with apt-get (as root or with sudo); 1 without apt-get.
apt_install() {
  local why="$1"
  shift
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing $* with apt-get ($why)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! have_clang; then
  if ! apt_install "the compiler the policies drive" clang-19 llvm-19 lld-19; then
    say "no clang >= 17 with its LLVM tools (llvm-size, llvm-objcopy) and lld found."
    say "Install LLVM 17 or newer (clang, llvm, lld) with your package manager, or set MLGO_CLANG."
    exit 1
  fi
fi

# The LLVM C++ headers of that clang build the inliner pass plugin (mlgo export --plugin).
if have_clang; then
  llvm_config="$clang_bindir/llvm-config"
  [ -x "$llvm_config" ] || llvm_config="llvm-config-$clang_major"
  includedir=$("$llvm_config" --includedir 2>/dev/null || true)
  if [ -z "$includedir" ] || [ ! -f "$includedir/llvm/Analysis/MLInlineAdvisor.h" ]; then
    apt_install "for the inliner pass plugin" "llvm-$clang_major-dev" \
      || say "the LLVM $clang_major C++ headers are missing: mlgo export --plugin needs them (llvm-$clang_major-dev)."
  fi
fi

# cmake and a C++ compiler build the exported policy's C++ check harness (mlgo export --verify).
if ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
  apt_install "for the export check harness" cmake g++ \
    || say "cmake or a C++ compiler is missing: mlgo export --verify needs both to build its check harness."
fi

# valgrind counts the runtime benchmarks' instructions (mlgo eval --runtime).
if ! command -v valgrind >/dev/null 2>&1; then
  apt_install "for mlgo eval --runtime" valgrind \
    || say "valgrind is missing: mlgo eval --runtime needs it to count instructions."
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "Python >= 3.10 is needed (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11."
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
deps_stamp=$(stamp_of requirements.txt)
if [ "$(cat .venv/.mlgo-deps 2>/dev/null)" != "$deps_stamp" ]; then
  say "installing the pinned dependencies (one pip call; about a minute)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$deps_stamp" > .venv/.mlgo-deps
fi
pkg_stamp=$(stamp_of setup.cfg pyproject.toml)
if [ "$(cat .venv/.mlgo-pkg 2>/dev/null)" != "$pkg_stamp" ]; then
  say "installing mlgo in editable mode, with its ray extra"
  .venv/bin/python -m pip install -q -c requirements.txt -e ".[ray]"
  echo "$pkg_stamp" > .venv/.mlgo-pkg
fi
lint_stamp=$(stamp_of requirements-lint.txt)
if [ "$(cat .venv-lint/.mlgo-lint 2>/dev/null)" != "$lint_stamp" ]; then
  say "installing the checkers (ruff, mypy, import-linter) in .venv-lint"
  [ -x .venv-lint/bin/python ] || "$python" -m venv .venv-lint
  .venv-lint/bin/python -m pip install -q -r requirements-lint.txt
  echo "$lint_stamp" > .venv-lint/.mlgo-lint
fi
say "ready: $(.venv/bin/mlgo --version 2>/dev/null || echo mlgo), activate with: source .venv/bin/activate"
