"""`mlgo train --profiles`: one ES step of regalloc eviction on xxhash (the small sample's module its benchmark
runs), with the real clang. The run records the choice, its baselines are the profiled compiles' (and differ from
the unprofiled one), and a resume that asks otherwise than the run started is refused; a run from before the flag
resumes without profiles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from compiler_opt.collect.baseline import BaselineCache, compute_baseline
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.profiles import collect_profiles
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.train import TrainOptions
from compiler_opt.training.run_folder import RunFolderError
from compiler_opt.training.setup import open_run

XXHASH = "xxhash/xxhash"
PROBLEM = "regalloc-eviction"
BINDINGS = (
    "train.trainer_config.vocab_modules = 1",
    "policy.network_config.fc_layer_params = (8,)",
    "es.es_config.perturbations = 1",
    "es.es_config.modules_per_perturbation = 1",
)


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory) -> Path:
    """A copy of the small sample holding xxhash and its benchmark program (xxhash-bench)."""
    root = tmp_path_factory.mktemp("corpus")
    description = json.loads((small_sample / "corpus_description.json").read_text())
    [program] = [p for p in description["programs"] if p["name"] == "xxhash-bench"]
    for path in [XXHASH + ".bc", XXHASH + ".cmd", *program["sources"], "programs/workload.h"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(small_sample / path, root / path)
    description.update(modules=[XXHASH], libraries={"xxhash": [XXHASH]}, programs=[program])
    (root / "corpus_description.json").write_text(json.dumps(description))
    return root


def mlgo_train(folder: Path, corpus: Path, *flags: str) -> subprocess.CompletedProcess:
    """`mlgo train` of one ES step into `folder`/run, its caches (profiles, baselines) in `folder`."""
    args = [
        "train",
        "--problem",
        PROBLEM,
        "--algorithm",
        "es",
        "--corpus",
        str(corpus),
        "--output",
        str(folder / "run"),
        "--iterations",
        "1",
        "--validation-fraction",
        "0",
        "--workers",
        "1",
        "--baselines",
        str(folder / "baselines"),
        "--json",
        *(arg for binding in BINDINGS for arg in ("--gin-binding", binding)),
        *flags,
    ]
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MLGO_CACHE_DIR": str(folder / "cache")},
    )


@pytest.fixture(scope="module")
def profiled_run(corpus, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The folder of one `mlgo train --profiles` run (run/, baselines/, cache/) and how the command ended."""
    folder = tmp_path_factory.mktemp("profiled")
    result = mlgo_train(folder, corpus, "--profiles")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result


def test_the_run_records_profiles_and_lists_what_got_one(profiled_run):
    folder, result = profiled_run
    assert json.loads((folder / "run" / "config.json").read_text())["profiles"] is True
    assert "profiles: 1 modules profiled, 0 without a profile" in result.stderr
    assert list((folder / "cache" / "profiles").glob("*/*/profile.profdata"))


def test_the_baselines_are_the_profiled_compiles(profiled_run, corpus, toolchain):
    folder, _ = profiled_run
    plain = load_corpus(corpus)
    found = collect_profiles(toolchain, plain, folder=folder / "cache" / "profiles")
    assert found.reused == ["xxhash"] and found.built == []  # the run's own profile
    profiled = found.apply(plain)
    cache = BaselineCache(folder / "baselines", toolchain, get_problem(PROBLEM))
    measured = cache.get(profiled.module(XXHASH).command(toolchain.clang))
    assert measured is not None, "the run computed no baseline with the profile"
    plain_command = plain.module(XXHASH).command(toolchain.clang)
    assert cache.get(plain_command) is None, "the run computed a baseline without the profile"
    guessed = compute_baseline(toolchain, PROBLEM, plain_command, 300.0)
    assert measured.value > 0 and guessed.value > 0 and measured.value != guessed.value
    [record] = [json.loads(line) for line in (folder / "run" / "log.jsonl").read_text().splitlines()]
    assert record["baseline_total"] == pytest.approx(measured.value)


def test_a_resume_without_profiles_is_refused(profiled_run, corpus):
    folder, _ = profiled_run
    before = (folder / "run" / "state.json").read_text()
    result = mlgo_train(folder, corpus, "--resume")
    assert result.returncode != 0
    assert "started with --profiles" in result.stderr and "resume it with --profiles" in result.stderr
    assert "Traceback" not in result.stderr
    assert (folder / "run" / "state.json").read_text() == before


def test_a_run_from_before_profiles_resumes_without_them(profiled_run, corpus, tmp_path, monkeypatch):
    folder, _ = profiled_run
    shutil.copytree(folder / "run", tmp_path / "run")
    config_file = tmp_path / "run" / "config.json"
    config = json.loads(config_file.read_text())
    del config["profiles"]  # config.json as runs wrote it before --profiles
    config_file.write_text(json.dumps(config))
    monkeypatch.setenv("MLGO_CACHE_DIR", str(folder / "cache"))
    options = TrainOptions(
        PROBLEM, "es", corpus, tmp_path / "run", resume=True, baseline_cache=folder / "baselines", validation_fraction=0
    )
    with LocalPool(1) as pool:
        old = open_run(options, pool, lambda files, bindings, text: "")
        assert old.profiles is False and old.training.module(XXHASH).profile is None
        with pytest.raises(RunFolderError, match="started without --profiles"):
            open_run(replace(options, profiles=True), pool, lambda files, bindings, text: "")
