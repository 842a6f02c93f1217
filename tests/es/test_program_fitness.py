"""ES fitness on programs (compiler_opt.es.program_fitness) with the real clang and callgrind on the small sample's
xxhash-bench: the reward of a policy's build is computed and a rebuild under the same policy gives the same count and
reward exactly; a build whose output differs from the default build's is a failure, never a score; the programs ES
may use (never a held-out one, never one whose library is on the validation side); `mlgo train --algorithm es` with
`es.es_config.fitness = 'programs'` end to end."""

from __future__ import annotations

import json
import shutil

import pytest

from compiler_opt.collect.actor import BASELINE_POLICY
from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.program_runs import ProgramRun
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.es.config import ESConfig
from compiler_opt.es.evaluation import CENTER
from compiler_opt.es.program_fitness import OUTPUT_DIFFERS, ProgramFitness, training_programs
from compiler_opt.es.program_jobs import run_program_task
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.training.config import TrainerConfig
from tests import tiny_runs

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")

PROGRAMS = ("xxhash-bench", "yaml-roundtrip")  # yaml-roundtrip is held out in the small sample
SETTINGS = TrainerConfig(compile_timeout=300.0, deadline_quorum=1.0)


def program_corpus(source, destination, programs=PROGRAMS):
    """A corpus folder holding `programs` of `source` (a built sample), their libraries and driver files only."""
    description = json.loads((source / "corpus_description.json").read_text())
    entries = [p for p in description["programs"] if p["name"] in programs]
    libraries = {p["library"]: description["libraries"][p["library"]] for p in entries}
    modules = [m for members in libraries.values() for m in members]
    for name in modules:
        for suffix in (".bc", ".cmd"):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / (name + suffix), destination / (name + suffix))
    shutil.copytree(source / "programs", destination / "programs")
    description.update(modules=modules, libraries=libraries, programs=entries)
    (destination / "corpus_description.json").write_text(json.dumps(description, indent=1))
    return destination


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory):
    return load_corpus(program_corpus(small_sample, tmp_path_factory.mktemp("programs")))


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def policy(rl_spec, rl_vocab, small_network):
    """A seeded fresh inlining actor in its numpy form."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights

    tf.random.set_seed(0)
    actor = actor_network(rl_spec, rl_vocab, small_network)
    return FastPolicy(rl_spec, rl_vocab, small_network, actor_weights(actor))


def _fitness(corpus, toolchain, baselines) -> ProgramFitness:
    training, validation = corpus.split(0.0)
    problem = get_problem("inlining")
    return ProgramFitness(
        training_programs(training, validation),
        training,
        problem,
        toolchain,
        BaselineCache(baselines, toolchain, problem),
        SETTINGS.compile_timeout,
    )


@pytest.fixture(scope="module")
def baselines(corpus, toolchain, pool, tmp_path_factory):
    """A baseline folder holding xxhash-bench's default build's run."""
    folder = tmp_path_factory.mktemp("baselines")
    _fitness(corpus, toolchain, folder).default_runs(pool)
    return folder


def test_a_programs_reward_is_computed_and_the_same_on_a_rebuild(corpus, toolchain, pool, policy, baselines):
    """Two builds under the same policy (or the same direction of it) execute exactly as many instructions, so
    the reward repeats exactly; so does the default build, in the test's process as in a pool worker (measured
    2026-12-03, clang 19.1.7, valgrind 3.19: exact once the run's environment and paths are fixed, see
    compiler_opt.collect.program_runs; a few hundred instructions apart before)."""
    fitness = _fitness(corpus, toolchain, baselines)
    assert list(fitness.tasks) == ["xxhash-bench"]  # the held-out yaml-roundtrip is not trained on
    [entry] = (baselines / "programs").rglob("*.json")
    written = entry.stat().st_mtime_ns
    [default] = fitness.default_runs(pool).values()  # read back from the cache beside the baselines, not rebuilt
    assert entry.stat().st_mtime_ns == written and fitness.cache.read(entry.stem) == default
    assert default.instructions > 10_000_000 and b"digest" in default.stdout
    task = fitness.tasks["xxhash-bench"]
    again = run_program_task(task, BASELINE_POLICY, 0, CENTER, 0.0)
    assert again.run == default and again.decisions == 0  # the advisor off: clang's own heuristic

    first = fitness.evaluate_step(pool, policy, [11], 0.05, iteration=1, settings=SETTINGS, evaluate_center=True)
    second = fitness.evaluate_step(pool, policy, [11], 0.05, iteration=2, settings=SETTINGS, evaluate_center=True)
    for step in (first, second):
        figures = step.figures
        assert figures.jobs == figures.jobs_ok == 3 and figures.jobs_failed == 0 and figures.decisions > 0
        assert step.extra["output_differs"] == [] and step.extra["program_failures"] == {}
    assert first.pair_scores == second.pair_scores and list(first.pair_scores) == [0]
    ratio = first.extra["program_ratios"]["xxhash-bench"]
    assert ratio == second.extra["program_ratios"]["xxhash-bench"] and ratio > 0
    assert first.record(2)["mean_reward"] == second.record(2)["mean_reward"] == 1.0 - ratio
    assert first.record(2)["total_ratio"] == ratio
    assert "programs xxhash-bench " in first.summary
    plus = run_program_task(task, policy, 11, 1, 0.05)
    assert 1.0 - plus.run.instructions / default.instructions == first.pair_scores[0][0]


def test_a_build_whose_output_differs_from_the_defaults_fails_and_never_scores(
    corpus, toolchain, pool, policy, baselines, tmp_path
):
    """The fault: the cached default build records other output (as a miscompiled policy build would print),
    read through the same path as a real one."""
    folder = tmp_path / "baselines"
    shutil.copytree(baselines, folder)
    fitness = _fitness(corpus, toolchain, folder)
    task = fitness.tasks["xxhash-bench"]
    key = fitness.cache.key(task)
    stored = fitness.cache.read(key)
    assert stored is not None
    fitness.cache.write(key, "xxhash-bench", ProgramRun(stored.instructions, b"input 0 rounds 0 digest 0\n"))

    step = fitness.evaluate_step(pool, policy, [11], 0.05, iteration=1, settings=SETTINGS, evaluate_center=True)
    figures = step.figures
    assert figures.jobs == figures.jobs_failed == 3 and figures.jobs_ok == 0
    assert step.pair_scores == {} and step.pairs_dropped == 1
    assert step.extra["output_differs"] == ["0+:xxhash-bench", "0-:xxhash-bench", "00:xxhash-bench"]
    assert step.extra["program_ratios"] == {}
    assert OUTPUT_DIFFERS in step.extra["program_failures"]["xxhash-bench"]
    record = step.record(2)
    assert record["mean_reward"] is None and record["best_perturbed_reward"] is None
    assert record["modules_failed"] == 1
    assert "output differs from the default build's: 0+:xxhash-bench" in step.summary


def test_held_out_programs_and_programs_with_validation_modules_are_refused(small_sample, tmp_path):
    folder = program_corpus(small_sample, tmp_path / "corpus", ("xxhash-bench", "yaml-roundtrip", "lz4-roundtrip"))
    corpus = load_corpus(folder)
    training, validation = corpus.split(0.0, "library")
    assert [p.name for p in training_programs(training, validation)] == ["lz4-roundtrip", "xxhash-bench"]
    with pytest.raises(MlgoError, match="yaml-roundtrip is held out"):
        training_programs(training, validation, ["yaml-roundtrip"])
    # A split by module may put one of lz4's modules on the validation side: its program would then measure
    # the policy on what ES trained on.
    training = corpus.subset([m for m in corpus if m.name != "lz4/lz4hc"])
    validation = corpus.subset([corpus.module("lz4/lz4hc")])
    assert [p.name for p in training_programs(training, validation)] == ["xxhash-bench"]
    with pytest.raises(MlgoError, match="the library of lz4-roundtrip, lz4, has modules on the validation side"):
        training_programs(training, validation, ["lz4-roundtrip"])
    with pytest.raises(MlgoError, match="no program nonesuch"):
        training_programs(training, validation, ["nonesuch"])


def test_bad_fitness_settings_are_refused():
    with pytest.raises(MlgoError, match="es_config.fitness must be one of modules, programs, got 'runtime'"):
        ESConfig(fitness="runtime")
    with pytest.raises(MlgoError, match="only es_config.fitness = 'programs' runs"):
        ESConfig(fitness_programs=("xxhash-bench",))


@pytest.mark.slow
def test_train_es_on_programs_logs_program_figures(small_sample, toolchain, tmp_path):
    folder = program_corpus(small_sample, tmp_path / "corpus", ("xxhash-bench",))
    output = tmp_path / "run"
    result = tiny_runs.mlgo(
        *("train", "--problem", "regalloc-eviction", "--algorithm", "es", "--corpus", folder, "--output", output),
        *("--clang", toolchain.clang, "--baselines", tmp_path / "baselines", "--iterations", 2),
        *("--validation-fraction", 0, "--workers", 2),
        *("--gin-binding", "train.trainer_config.vocab_modules = 1"),
        *("--gin-binding", "policy.network_config.fc_layer_params = (8,)"),
        *("--gin-binding", "es.es_config.perturbations = 2"),
        *("--gin-binding", "es.es_config.fitness = 'programs'"),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == [1, 2]
    for record in log:
        assert record["programs"] == ["xxhash-bench"] and record["jobs"] == 2 * 2 + 1
        assert record["jobs_ok"] + record["jobs_failed"] == 5
        assert set(record["program_ratios"]) <= {"xxhash-bench"}
    assert log[0]["jobs_ok"] == 5 and log[0]["program_ratios"]["xxhash-bench"] > 0
    assert "programs xxhash-bench " in result.stdout + result.stderr
