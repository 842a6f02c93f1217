"""Measured profiles (compiler_opt.corpus.profiles): collected from the small sample's xxhash benchmark with the real
clang, cached (a second collection builds nothing), applied (the same module's regalloc remark costs differ with its
profile; every installed clang release reads one), modules without one reported with why, and `mlgo eval --profiles`
end to end."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.profiles import collect_profiles
from compiler_opt.corpus.programs import load_programs
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.compile import compile_plainly
from compiler_opt.llvm.measure import read_regalloc_remarks
from compiler_opt.llvm.profdata import merge_profiles
from compiler_opt.llvm.toolchain import MIN_MAJOR, NEWEST_MAJOR, find_toolchain
from compiler_opt.problems.measurements import RegallocCostMeasurement
from tests.conftest import build_module

XXHASH = "xxhash/xxhash"
UNRUN = "brotli/dec/prefix"  # a library no program runs
RELEASES = [f"clang-{major}" for major in range(MIN_MAJOR, NEWEST_MAJOR + 1) if shutil.which(f"clang-{major}")]
# A program whose run never calls `cold`: with the profile, the compiler puts it in a `.text.unlikely.` section.
COLD_AND_HOT = r"""
#include <stdio.h>
int cold(int x) { return printf("cold %d\n", x); }
int hot(int x) { return x > 3 ? x * 2 : x + 1; }
int main(int argc, char **argv) {
  int s = 0;
  for (int i = 0; i < 1000; i++) s += hot(i + argc);
  if (argc > 5) cold(s);
  return s == 42;
}
"""


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory):
    """A copy of the small sample holding xxhash (run by xxhash-bench) and one brotli module (run by no program)."""
    root = tmp_path_factory.mktemp("corpus")
    description = json.loads((small_sample / "corpus_description.json").read_text())
    [program] = [p for p in description["programs"] if p["name"] == "xxhash-bench"]
    for name in (XXHASH, UNRUN):
        for suffix in (".bc", ".cmd"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(small_sample / (name + suffix), root / (name + suffix))
    for source in program["sources"]:
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(small_sample / source, root / source)
    (root / "programs" / "workload.h").write_bytes((small_sample / "programs" / "workload.h").read_bytes())
    description.update(modules=[XXHASH, UNRUN], libraries={"xxhash": [XXHASH], "brotli": [UNRUN]}, programs=[program])
    (root / "corpus_description.json").write_text(json.dumps(description))
    return load_corpus(root)


def _cost(toolchain, command, workdir):
    """The regalloc measurement of one plain compile of `command`: (total cost, per-function costs)."""
    measurement = RegallocCostMeasurement()
    workdir.mkdir()
    obj = workdir / "module.o"
    compile_plainly(command.argv(obj, measurement.compile_options(workdir, command.cc1)), "module", timeout=300)
    return measurement.measure(toolchain, obj, workdir), read_regalloc_remarks(workdir / "regalloc-remarks.yaml")


def test_profiles_are_collected_cached_and_change_block_frequencies(toolchain, corpus, tmp_path):
    folder = tmp_path / "profiles"
    first = collect_profiles(toolchain, corpus, folder=folder)
    assert first.built == ["xxhash"] and first.reused == []
    assert set(first.profiles) == {XXHASH}
    assert first.missing == {UNRUN: "none of the programs profiled runs its library brotli"}
    assert UNRUN in first.describe() and "1 modules profiled, 1 without a profile" in first.describe()
    profile = first.profiles[XXHASH]
    assert profile.is_relative_to(folder) and profile.stat().st_size > 0
    written = profile.stat().st_mtime_ns

    again = collect_profiles(toolchain, corpus, folder=folder)
    assert again.built == [] and again.reused == ["xxhash"]
    assert again.profiles == first.profiles and profile.stat().st_mtime_ns == written

    profiled = first.apply(corpus)
    assert profiled.module(XXHASH).profile == profile and profiled.module(UNRUN).profile is None
    command = profiled.module(XXHASH).command(toolchain.clang)
    assert str(profile) in command.files
    plain_score, plain = _cost(toolchain, corpus.module(XXHASH).command(toolchain.clang), tmp_path / "plain")
    measured_score, measured = _cost(toolchain, command, tmp_path / "measured")
    # The same module and allocator: only the block frequencies differ, and with them the costs.
    assert plain_score.value > 0 and measured_score.value > 0
    assert plain_score.value != measured_score.value
    common = set(plain) & set(measured)
    assert any(plain[f] != measured[f] for f in common), "no function's costs changed with the profile"


def test_a_program_that_fails_is_an_error_naming_it(toolchain, corpus, tmp_path):
    [program] = load_programs(corpus)
    (tmp_path / "fails.c").write_text("int main(void) { return 3; }\n")
    broken = dataclasses.replace(program, name="broken-bench", sources=(tmp_path / "fails.c",))
    with pytest.raises(MlgoError, match=r"broken-bench: running instrumented failed \(exit status 3\)"):
        collect_profiles(toolchain, corpus, [broken], folder=tmp_path / "profiles")
    assert not list((tmp_path / "profiles").glob("*/*/profile.json"))  # nothing cached


def test_eval_with_profiles_reports_them_and_measures_other_costs(corpus, tmp_path):
    """`mlgo eval --profiles`: the default allocator's cost of xxhash differs with the profile; the JSON lists the
    profiled modules and the others with why; profiles come from the cache the second time."""

    def evaluate(name, *flags):
        output = tmp_path / f"{name}.json"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlgo.cli",
                "eval",
                "--problem",
                "regalloc-eviction",
                "--policy",
                "default",
                "--corpus",
                str(corpus.root),
                "--output",
                str(output),
                "--workers",
                "1",
                "--baselines",
                str(tmp_path / "baselines"),
                *flags,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "MLGO_CACHE_DIR": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(output.read_text()), result.stderr

    plain, _ = evaluate("plain")
    profiled, stderr = evaluate("profiled", "--profiles")
    assert "profiles: 1 modules profiled, 1 without a profile" in stderr and UNRUN in stderr
    assert "profiles" not in plain
    assert profiled["profiles"] == {
        "profiled": [XXHASH],
        "missing": {UNRUN: "none of the programs profiled runs its library brotli"},
    }
    costs = {
        name: {m["name"]: m["default"] for m in report["modules"]}
        for name, report in (("plain", plain), ("profiled", profiled))
    }
    assert costs["plain"][XXHASH] != costs["profiled"][XXHASH]
    assert costs["plain"][UNRUN] == costs["profiled"][UNRUN]
    assert list((tmp_path / "cache" / "profiles").glob("*/*/profile.profdata"))


@pytest.mark.parametrize("clang", RELEASES)
def test_every_release_compiles_a_corpus_module_with_its_profile(clang, tmp_path):
    """The cc1 spelling of a profile differs between releases (clang 22 wants its kind, clang 19 refuses that)."""
    toolchain = find_toolchain(clang)
    source = tmp_path / "cold_and_hot.c"
    source.write_text(COLD_AND_HOT)
    program = tmp_path / "cold_and_hot"
    subprocess.run([str(toolchain.clang), "-Oz", "-fprofile-generate", str(source), "-o", str(program)], check=True)
    subprocess.run([program], check=True, env={**os.environ, "LLVM_PROFILE_FILE": str(tmp_path / "run.profraw")})
    profile = merge_profiles(toolchain, [tmp_path / "run.profraw"], tmp_path / "run.profdata")
    command = build_module(toolchain, source, tmp_path / "module").command(toolchain)

    def text_sections(used: Path | None) -> list[str]:
        """The `.text*` sections of the module compiled with the profile `used` (None: without one)."""
        obj = tmp_path / f"{'profiled' if used else 'plain'}.o"
        argv = dataclasses.replace(command, profile=None if used is None else str(used)).argv(obj)
        compile_plainly(argv, "cold_and_hot", timeout=120)
        listing = subprocess.run(
            [str(toolchain.tool("llvm-readelf")), "--sections", "--wide", str(obj)], capture_output=True, text=True
        )
        return [word for word in listing.stdout.split() if word.startswith(".text")]

    assert not any(name.startswith(".text.unlikely.") for name in text_sections(None))
    assert any(name.startswith(".text.unlikely.") for name in text_sections(profile))
    with pytest.raises(MlgoError, match="missing.profdata"):
        text_sections(tmp_path / "missing.profdata")
