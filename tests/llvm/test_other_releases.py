"""The small end-to-end paths on every installed clang >= 17 besides the suite's own, as a user runs them.

The suite runs on one compiler (CI: clang-19, through `MLGO_CLANG`), while
discovery prefers the newest release installed, so a user who has clang-22
trains on clang-22. For every other release installed (CI adds clang-22),
these tests build the small sample corpus with it, train one iteration of
every problem with every algorithm it has, then evaluate (linked, so through
that release's `ld.lld` too), export (verified; `--aot` where LLVM embeds the
problem's model) and compile through `mlgo cc` with the policies: each a
command in a subprocess. Without another release they are skipped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import MIN_MAJOR, NEWEST_MAJOR, find_toolchain
from compiler_opt.problems import get_problem, problem_names
from compiler_opt.train import ALGORITHMS
from compiler_opt.training.gin_config import GIN_DIR
from tests import tiny_runs
from tests.conftest import DATA
from tests.rl.conftest import sub_corpus


def _suite_clang() -> Path | None:
    try:
        return find_toolchain().clang.resolve()
    except MlgoError:
        return None


def _other_releases() -> list[str]:
    """`clang-N` for each release on PATH whose compiler is not the one the suite runs on."""
    suite = _suite_clang()
    found = [(f"clang-{major}", shutil.which(f"clang-{major}")) for major in range(MIN_MAJOR, NEWEST_MAJOR + 1)]
    return [name for name, path in found if path and Path(path).resolve() != suite]


OTHERS = _other_releases()
CONFIGURATIONS = [
    (problem, algorithm)
    for problem in problem_names()
    for algorithm in ALGORITHMS
    if (GIN_DIR / problem / f"{algorithm}.gin").exists()
]
# The algorithm of the policies that eval, export and `mlgo cc` use: the cheapest, and every problem has it.
EVALUATED = "es"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not OTHERS, reason="no clang >= 17 installed besides the suite's own"),
]


class Release:
    """One other release's small corpus and baselines, and its policies trained on demand (once each)."""

    def __init__(self, clang: str, folder: Path) -> None:
        from corpus_tools.sample import build_sample

        self.clang, self.folder = clang, folder
        sample, _ = build_sample(find_toolchain(clang), size="small")
        self.corpus = sub_corpus(sample, tiny_runs.MODULES, folder / "corpus")
        self.baselines = folder / "baselines"
        self.runs: dict[tuple[str, str], dict] = {}

    def train(self, problem: str, algorithm: str) -> dict:
        """The summary of one iteration of `algorithm` on `problem` (trained at the first call)."""
        if (problem, algorithm) not in self.runs:
            result = tiny_runs.train(
                self.corpus, self.policy_run(problem, algorithm), problem, algorithm, self.clang, self.baselines
            )
            self.runs[problem, algorithm] = json.loads(result.stdout.strip().splitlines()[-1])
        return self.runs[problem, algorithm]

    def policy_run(self, problem: str, algorithm: str) -> Path:
        return self.folder / f"{problem}-{algorithm}"


@pytest.fixture(scope="module")
def releases() -> dict[str, Release]:
    return {}


@pytest.fixture
def release(request, releases, tmp_path_factory) -> Release:
    clang = request.param
    if clang not in releases:
        releases[clang] = Release(clang, tmp_path_factory.mktemp(clang))
    return releases[clang]


@pytest.mark.parametrize("release", OTHERS, indirect=True)
@pytest.mark.parametrize("problem, algorithm", CONFIGURATIONS)
def test_trains_every_problem(release, problem, algorithm):
    summary = release.train(problem, algorithm)
    assert summary["iterations"] == 1 and summary["stopped"] == "iterations"
    assert summary["last"]["modules_ok"] >= 1 and summary["last"]["modules_failed"] == 0
    assert (release.policy_run(problem, algorithm) / "policy" / "saved_model.pb").is_file()


@pytest.mark.parametrize("release", OTHERS, indirect=True)
@pytest.mark.parametrize("problem", problem_names())
def test_evaluates_exports_and_compiles_with_the_policy(release, problem, tmp_path):
    release.train(problem, EVALUATED)
    policy = release.policy_run(problem, EVALUATED) / "policy"

    tiny_runs.evaluate(
        release.corpus, policy, problem, release.clang, release.baselines, tmp_path / "eval.json", "--linked"
    )
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["summary"]["modules"] == len(tiny_runs.MODULES) and evaluation["summary"]["failed"] == 0
    assert [library["library"] for library in evaluation["linked"]] == ["libyaml", "xxhash"]

    aot = get_problem(problem).embedded_model is not None
    result = tiny_runs.export(policy, tmp_path / "export", release.corpus, release.clang, aot=aot)
    verify = json.loads(result.stdout.strip().splitlines()[-1])["verify"]
    forms = ["numpy", "saved_model", "tflite"] + (["aot"] if aot else [])
    assert verify["observations"] == 50 and verify["agreed"] == dict.fromkeys(forms, 50)

    tiny_runs.cc(policy, DATA / "calls.cc", tmp_path / "calls.o", release.clang, "--cxx")
    assert (tmp_path / "calls.o").read_bytes().startswith(b"\x7fELF")
