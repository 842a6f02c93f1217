"""Shared helpers for the corpus tests: one real module, corpora written by hand in LLVM's layout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compiler_opt.corpus.loading import Corpus, ModuleSpec, load_corpus
from compiler_opt.llvm.cmdline import read_cmd_file

C_SOURCE = "static int sq(int x) { return x * x; }\nint f(int x) { return sq(x) + sq(x + 1); }\n"


@pytest.fixture(scope="module")
def module_files(toolchain, tmp_path_factory):
    """One real module as a corpus holds it: (bitcode bytes, cc1 argument list)."""
    work = tmp_path_factory.mktemp("module")
    (work / "m.c").write_text(C_SOURCE)
    subprocess.run(
        [str(toolchain.clang), "-Oz", "-Xclang", "-fembed-bitcode=all", "-c", "m.c", "-o", "m.o"], cwd=work, check=True
    )
    subprocess.run(
        [
            str(toolchain.tool("llvm-objcopy")),
            "--dump-section=.llvmbc=m.bc",
            "--dump-section=.llvmcmd=m.cmd",
            "m.o",
            "/dev/null",
        ],
        cwd=work,
        check=True,
    )
    return (work / "m.bc").read_bytes(), read_cmd_file(work / "m.cmd")


def write_corpus(root: Path, module_files, names, **description) -> Path:
    """A corpus in LLVM's layout, written by hand: description, <m>.bc, NUL-separated <m>.cmd."""
    bitcode, args = module_files
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / f"{name}.bc").write_bytes(bitcode)
        (root / f"{name}.cmd").write_bytes("\0".join(args).encode())
    (root / "corpus_description.json").write_text(
        json.dumps({"modules": list(names), "has_thinlto": False, **description})
    )
    return root


def fake_corpus(tmp_path: Path, module_files, count: int) -> Corpus:
    """A corpus of `count` modules in 5 libraries with varied sizes (all sharing one real bitcode file)."""
    corpus = load_corpus(write_corpus(tmp_path, module_files, ["seed"]))
    specs = [
        ModuleSpec(
            name=f"lib{i % 5}/m{i}",
            bitcode=tmp_path / "seed.bc",
            cc1_args=("-cc1",),
            thinlto_index=None,
            size=(i * 7919) % 1000 + 1,
        )
        for i in range(count)
    ]
    return corpus.subset(specs)
