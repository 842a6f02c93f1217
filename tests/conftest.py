"""Shared fixtures: the real toolchain and small modules compiled the way a corpus holds them."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler_opt.llvm.cmdline import CompileCommand, read_cmd_file
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class BuiltModule:
    """A module as a corpus holds it: bitcode, its cc1 command, and the original object."""

    name: str
    bitcode: Path
    cmd: Path
    original_object: Path

    def command(self, toolchain: Toolchain) -> CompileCommand:
        return CompileCommand.from_cc1(toolchain, read_cmd_file(self.cmd), self.bitcode, origin=self.name)


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return find_toolchain()


def build_module(toolchain: Toolchain, source: Path, workdir: Path, flags: tuple[str, ...] = ("-Oz",)) -> BuiltModule:
    """Compile `source` with embedded bitcode and split out its .bc and .cmd (as `corpus extract` does)."""
    workdir.mkdir(parents=True, exist_ok=True)
    obj = workdir / (source.stem + ".o")
    driver = str(toolchain.clang) + ("++" if source.suffix == ".cc" else "")
    subprocess.run([driver, *flags, "-c", "-Xclang", "-fembed-bitcode=all", str(source), "-o", str(obj)], check=True)
    bitcode, cmd = obj.with_suffix(".bc"), obj.with_suffix(".cmd")
    subprocess.run(
        [
            str(toolchain.tool("llvm-objcopy")),
            f"--dump-section=.llvmbc={bitcode}",
            f"--dump-section=.llvmcmd={cmd}",
            str(obj),
            os.devnull,
        ],
        check=True,
    )
    return BuiltModule(source.stem, bitcode, cmd, obj)


@pytest.fixture(scope="session")
def modules(toolchain: Toolchain, tmp_path_factory) -> dict[str, BuiltModule]:
    """The test sources in tests/data, compiled at -Oz with embedded bitcode."""
    workdir = tmp_path_factory.mktemp("modules")
    return {source.stem: build_module(toolchain, source, workdir) for source in sorted(DATA.glob("*.c*"))}


@pytest.fixture(scope="session")
def small_sample(toolchain: Toolchain) -> Path:
    """The `--size small` sample corpus of real open-source code (built once, then cached)."""
    from corpus_tools.sample import build_sample

    folder, _ = build_sample(toolchain, size="small")
    return folder
