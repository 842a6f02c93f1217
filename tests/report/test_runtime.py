"""`mlgo eval --runtime`: the sample corpus's programs built under both sides, counted by callgrind and timed (the
number of runs, median and spread); builds that print different output fail; C++ drivers link; bad runtime flags are
refused before anything runs (the program descriptions: tests/corpus/test_programs.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.programs import Program
from compiler_opt.llvm.compile import compile_plainly
from compiler_opt.report.runtime import measure_program

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


@pytest.mark.slow
def test_eval_runtime_counts_instructions_of_both_builds(small_sample, tmp_path):
    """The CLI end to end: a random eviction policy against the default allocator on xxhash's benchmark."""
    output = tmp_path / "eval.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "eval",
            "--problem",
            "regalloc-eviction",
            "--policy",
            "random",
            "--corpus",
            str(small_sample),
            "--output",
            str(output),
            "--max-modules",
            "2",
            "--runtime",
            "xxhash-bench",
            "--runtime-runs",
            "2",
            "--workers",
            "2",
            "--baselines",
            str(tmp_path / "baselines"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["summary"]["modules"] == 2
    [entry] = report["runtime"]
    assert entry["program"] == "xxhash-bench" and entry["ok"], entry.get("error")
    for side in ("default", "policy"):
        assert entry[side]["instructions"] > 10_000_000 and entry[side]["seconds"] > 0
    # A random eviction policy allocates differently from the default: the counts differ.
    assert entry["default"]["instructions"] != entry["policy"]["instructions"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--runtime", "nonesuch"], "no program nonesuch; the corpus has: lz4-roundtrip, xxhash-bench, yaml-roundtrip"),
        (["--runtime", "--runtime-runs", "0"], "argument --runtime-runs: must be at least 1, got 0"),
    ],
)
def test_eval_refuses_bad_runtime_flags_before_compiling(small_sample, tmp_path, flags, message):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "eval",
            "--problem",
            "regalloc-eviction",
            "--policy",
            "random",
            "--corpus",
            str(small_sample),
            "--output",
            str(tmp_path / "eval.json"),
            *flags,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "eval.json").exists()


# A driver hashing (with the corpus's xxhash) either a fixed string or the path of the folder it runs in: each
# build runs in its own folder, so `cwd` makes the two builds print different output, as a
# miscompile would, through the same code path as any program.
_CWD_HASH = r"""
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
unsigned long long XXH64(const void *input, size_t length, unsigned long long seed);
int main(int argc, char **argv) {
  char text[PATH_MAX] = "fixed";
  if (argc > 1 && !strcmp(argv[1], "cwd") && !getcwd(text, sizeof text)) return 1;
  printf("%016llx\n", XXH64(text, strlen(text), 0));
  return 0;
}
"""

# The same in C++ (std::string, iostream): the program links the C++ runtime without being told.
_CXX_HASH = r"""
#include <cstddef>
#include <iostream>
#include <string>
extern "C" unsigned long long XXH64(const void *input, std::size_t length, unsigned long long seed);
int main() {
  std::string text(1000, 'x');
  std::cout << std::hex << XXH64(text.data(), text.size(), 0) << std::endl;
  return 0;
}
"""


@pytest.fixture(scope="module")
def xxhash_objects(small_sample, toolchain, tmp_path_factory):
    """The small corpus's xxhash library compiled plainly: the objects both builds link."""
    folder = tmp_path_factory.mktemp("xxhash")
    objects = []
    for spec in load_corpus(small_sample):
        if spec.library == "xxhash":
            objects.append(folder / f"{len(objects)}.o")
            compile_plainly(spec.command(toolchain.clang).argv(objects[-1]), spec.name, 120)
    assert objects
    return objects


def _program(tmp_path, name, text, suffix=".c", args=()):
    source = tmp_path / f"{name}{suffix}"
    source.write_text(text)
    return Program(name, "xxhash", (source,), tuple(args), held_out=True)


def test_builds_that_print_different_output_fail_and_keep_no_figure(toolchain, xxhash_objects, tmp_path):
    objects = {"default": xxhash_objects, "policy": xxhash_objects}
    same = measure_program(toolchain, _program(tmp_path, "hash", _CWD_HASH, args=["fixed"]), objects, runs=3)
    assert same["ok"] and same["error"] is None and same["held_out"]
    for side in ("default", "policy"):
        figures = same[side]
        assert figures["instructions"] > 0 and figures["runs"] == 3
        assert 0 < figures["seconds_min"] <= figures["seconds"] <= figures["seconds_max"]
    assert same["default"]["instructions"] == same["policy"]["instructions"]  # the same objects: the same count

    differs = measure_program(toolchain, _program(tmp_path, "hash", _CWD_HASH, args=["cwd"]), objects, runs=3)
    assert not differs["ok"] and "printed other output than the default's" in differs["error"]
    assert "default" not in differs and "policy" not in differs  # nothing a report could read as a result


def test_a_cxx_driver_links_the_cxx_runtime(toolchain, xxhash_objects, tmp_path):
    program = _program(tmp_path, "cxx", _CXX_HASH, suffix=".cc")
    assert program.cxx
    entry = measure_program(toolchain, program, {"default": xxhash_objects, "policy": xxhash_objects}, runs=1)
    assert entry["ok"], entry["error"]
