"""`mlgo train` as a command: its flags, and resuming a real run killed with SIGKILL mid-iteration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler_opt.policy.config import network_config
from compiler_opt.problems import problem_names
from compiler_opt.train import ALGORITHMS, _learner_config, _load_gin
from compiler_opt.training.config import trainer_config
from compiler_opt.training.gin_config import GIN_DIR, default_gin_file
from compiler_opt.training.memory import process_tree
from tests.mlgo.conftest import decoy_checkout


def mlgo(*args, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, check=check, cwd=cwd
    )


def test_help_explains_every_flag():
    text = mlgo("train", "--help").stdout
    for flag in (
        "--problem",
        "--algorithm",
        "--corpus",
        "--output",
        "--warmstart",
        "--vocab",
        "--workers",
        "--iterations",
        "--modules-per-iteration",
        "--max-modules",
        "--max-seconds",
        "--gin_file",
        "--gin_bindings",
        "--budget-minutes",
        "--gin-file",
        "--gin-binding",
        "-o",
        "--resume",
        "--seed",
        "--validation-fraction",
        "--baselines",
        "--backend",
        "log.jsonl",
        "failed_modules.json",
    ):
        assert flag in text, flag


# Every problem's gin file for every algorithm it has (clang 19's register allocator cannot replay its own
# decisions, so the regalloc problems have no BC).
CONFIGURATIONS = [
    (problem, algorithm)
    for problem in problem_names()
    for algorithm in ALGORITHMS
    if (GIN_DIR / problem / f"{algorithm}.gin").exists()
]


def test_every_problem_has_a_gin_file_for_ppo_and_es():
    assert {(problem, algorithm) for problem in problem_names() for algorithm in ("ppo", "es")} <= set(CONFIGURATIONS)


@pytest.mark.parametrize("problem, algorithm", CONFIGURATIONS)
def test_every_gin_configuration_parses_from_any_working_directory(tmp_path, monkeypatch, problem, algorithm):
    # The includes resolve against the installed package: not against the working directory, even one that holds
    # files at the included paths.
    decoy_checkout(tmp_path)
    monkeypatch.chdir(tmp_path)
    _load_gin([default_gin_file(problem, algorithm)], ())
    assert trainer_config().iterations >= 1 and network_config().fc_layer_params
    _learner_config(algorithm)


@pytest.mark.parametrize("problem, algorithm", CONFIGURATIONS)
def test_an_unknown_gin_setting_is_a_clear_error(small_sample, tmp_path, problem, algorithm):
    # Run from a folder outside the checkout: the problem's gin files and their includes must still be found.
    result = mlgo(
        "train",
        "--problem",
        problem,
        "--algorithm",
        algorithm,
        "--corpus",
        small_sample,
        "--output",
        tmp_path / "run",
        "--gin-binding",
        "train.trainer_config.speed = 11",
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "speed" in result.stderr and "Traceback" not in result.stderr


def test_regalloc_trains_from_outside_the_checkout(eviction_run):
    run, result = eviction_run
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["iterations"] == 1
    assert (run / "policy" / "saved_model.pb").exists()


def _state(run: Path) -> dict:
    try:
        return json.loads((run / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        pids = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and not _zombie(pid)]
        if not pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.2)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            stat = stream.read()
        return stat[stat.rfind(b")") + 2 :].split()[0] == b"Z"
    except OSError:
        return False


@pytest.mark.slow
def test_resume_after_sigkill_loses_at_most_the_iteration_in_flight(small_sample, tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        "--problem",
        "inlining",
        "--algorithm",
        "ppo",
        "--corpus",
        small_sample,
        "--output",
        run,
        "--iterations",
        3,
        "--modules-per-iteration",
        6,
        "--workers",
        2,
        "--baselines",
        tmp_path / "baselines",
        "--gin-binding",
        "train.trainer_config.vocab_modules = 6",
        "--gin-binding",
        "policy.network_config.fc_layer_params = (16, 8)",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    descendants: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while _state(run).get("iteration", 0) < 1:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the first iteration did not complete in time"
            time.sleep(0.2)
        time.sleep(2.0)  # iteration 2 is collecting now
        descendants = process_tree(process.pid)[1:]
        assert descendants, "the pool's workers should be running"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # Nothing the run started outlives it for long: workers see their pipe close and exit.
        assert _wait_gone(descendants, 60) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in _wait_gone(descendants, 0):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    killed_state = _state(run)
    assert killed_state["iteration"] == 1
    assert [json.loads(line)["iteration"] for line in (run / "log.jsonl").read_text().splitlines()] in ([1], [1, 2])

    resumed = mlgo(*args, "--resume", "--json")
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["iterations"] == 3 and summary["stopped"] == "iterations"
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    # The learner went on from iteration 1's checkpoint: its step counter continues.
    for before, after in zip(records, records[1:]):
        assert after["train_step"] == before["train_step"] + after["train_batches"]
    assert _state(run)["iteration"] == 3
    assert sorted(p.name for p in (run / "trajectories").iterdir()) == ["iteration-00003"]
    assert sorted({p.name.split(".")[0] for p in (run / "checkpoints").iterdir()}) == [
        "iteration-00002",
        "iteration-00003",
    ]
    assert (run / "train.log").read_text().count("\n") == 3
    assert (run / "policy" / "saved_model.pb").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging folder or temp file left
