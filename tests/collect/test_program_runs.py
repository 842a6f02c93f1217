"""Program runs (compiler_opt.collect.program_runs) with the real clang and callgrind on the small sample's xxhash-bench:
the instruction count is the same wherever the temporary folder is and whatever the caller's environment (a pool
worker has its own), and the cache digest of a program's inputs follows the headers its drivers include."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile

import pytest

from compiler_opt.collect.program_runs import driver_inputs_digest, run_program
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.programs import load_programs
from compiler_opt.llvm.compile import compile_plainly

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


@pytest.fixture(scope="module")
def xxhash(small_sample, toolchain, tmp_path_factory):
    """xxhash-bench and its library's objects, compiled plainly."""
    corpus = load_corpus(small_sample)
    [program] = load_programs(corpus, ["xxhash-bench"])
    folder = tmp_path_factory.mktemp("objects")
    objects = []
    for name in corpus.libraries[program.library]:
        objects.append(folder / f"{len(objects)}.o")
        compile_plainly(corpus.module(name).command(toolchain.clang).argv(objects[-1]), name, 120)
    return program, objects


def test_the_count_does_not_depend_on_the_temporary_folder_or_the_environment(toolchain, xxhash, tmp_path, monkeypatch):
    program, objects = xxhash
    first = run_program(toolchain, program, objects)
    assert first.instructions > 10_000_000 and b"digest" in first.stdout
    # Before the run's environment and paths were fixed, these made the counts differ by a few to a few hundred.
    deep = tmp_path / ("a-much-longer-temporary-folder-name" * 2)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    monkeypatch.setenv("MLGO_TEST_PADDING", "x" * 300)
    assert run_program(toolchain, program, objects) == first


def test_the_inputs_digest_follows_the_drivers_headers(toolchain, xxhash, tmp_path):
    program, _ = xxhash
    copy = tmp_path / "programs"
    shutil.copytree(program.sources[0].parent, copy)
    moved = dataclasses.replace(program, sources=(copy / program.sources[0].name,))
    assert driver_inputs_digest(toolchain, moved) == driver_inputs_digest(toolchain, program)
    header = copy / "workload.h"
    assert header.exists()  # the premise: xxhash_bench.c includes it
    header.write_text(header.read_text() + "\n/* changed */\n")
    assert driver_inputs_digest(toolchain, moved) != driver_inputs_digest(toolchain, program)
