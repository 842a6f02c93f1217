"""The default-decision replay on every clang >= 17 installed here (CI adds clang-22 to clang-19)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from compiler_opt.collect.trace import trace_module
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import get_problem
from tests.conftest import DATA, build_module

INSTALLED = [f"clang-{major}" for major in range(17, 23) if shutil.which(f"clang-{major}")]


@pytest.mark.parametrize("clang", INSTALLED)
def test_default_replay_is_the_plain_compile(clang, tmp_path, monkeypatch):
    monkeypatch.setenv("MLGO_CACHE_DIR", str(tmp_path / "cache"))
    toolchain = find_toolchain(clang)
    slot = toolchain.probe().facts["inlining_default_feature"]
    assert slot in ("inlining_default", "callee_basic_block_count")
    module = build_module(toolchain, DATA / "calls.cc", tmp_path)
    command = module.command(toolchain)
    result = trace_module(toolchain, get_problem("inlining"), "default", command, object_path=tmp_path / "r.o")
    assert result.decisions > 20
    plain = tmp_path / "p.o"
    subprocess.run(command.argv(plain), check=True)
    assert (tmp_path / "r.o").read_bytes() == plain.read_bytes()
