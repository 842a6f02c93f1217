"""Collection valued by linked size (`trainer_config.reward_size = "linked"`), with the real clang and lld."""

from __future__ import annotations

import json

import pytest

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileTask, compile_jobs, run_compile_task
from compiler_opt.collect.rollouts import CollectFigures, ModuleBook, rollouts
from compiler_opt.collect.scoring import scorer_source
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.training.config import TrainerConfig, trainer_config
from tests.rl.conftest import sub_corpus

INLINING = get_problem("inlining")
# Two whole libraries of the small sample (a library links only whole).
LIBRARIES = ("lz4", "xxhash")


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory):
    whole = load_corpus(small_sample)
    names = [name for library in LIBRARIES for name in whole.libraries[library]]
    return load_corpus(sub_corpus(small_sample, names, tmp_path_factory.mktemp("linked") / "corpus"))


def test_rollouts_value_compiles_in_the_worker_as_the_scorer_does(toolchain, corpus, pool, tmp_path):
    """A built-in policy's compiles through `rollouts` with a linked source: the values its scorer gives them."""
    source = scorer_source("linked", "inlining", corpus=corpus, toolchain=toolchain, baselines=tmp_path / "baselines")
    baselines = BaselineCache(tmp_path / "baselines", toolchain, INLINING)
    modules = list(corpus.modules)

    def jobs(module, ref):
        task = CompileTask(
            module, "inlining", str(toolchain.clang), "always", explore=False, record=False, keep_object=True
        )
        return compile_jobs([task])

    figures = CollectFigures()
    got = {
        r.module: r
        for r in rollouts(
            pool,
            None,
            modules,
            jobs,
            INLINING,
            toolchain,
            baselines,
            ModuleBook(),
            figures,
            iteration=1,
            settings=TrainerConfig(),
            desc="linked",
            scoring=source,
        )
    }
    assert set(got) == {m.name for m in modules} and figures.jobs_ok == len(modules) and figures.seconds_score > 0
    scorer = source.scorer(modules, pool)
    differs = 0
    for module in modules:
        rollout = got[module.name]
        assert rollout.compiled.object is None  # valued in the worker; the object stayed there
        again = run_compile_task(
            CompileTask(
                module, "inlining", str(toolchain.clang), "always", explore=False, record=False, keep_object=True
            )
        )
        assert rollout.value == scorer.value(module.name, again.score, again.object)
        plain = run_compile_task(
            CompileTask(module, "inlining", str(toolchain.clang), BASELINE_POLICY, record=False, keep_object=True)
        )
        assert rollout.baseline == rollout.default.value == scorer.value(module.name, plain.score, plain.object)
        differs += rollout.value != rollout.compiled.score.value
    assert differs


@pytest.mark.parametrize("algorithm", ["es", "ppo"])
def test_an_iteration_trains_on_linked_size(algorithm, corpus, pool, tmp_path):
    from compiler_opt.train import TrainOptions, train

    tiny = {
        "es": ("es.es_config.perturbations = 1", "es.es_config.modules_per_perturbation = 2"),
        "ppo": ("ppo.ppo_config.epochs = 1",),
    }
    bindings = (
        'train.trainer_config.reward_size = "linked"',
        "train.trainer_config.vocab_modules = 2",
        "train.trainer_config.deadline_quorum = 1.0",
        "policy.network_config.fc_layer_params = (8,)",
        *tiny[algorithm],
    )
    options = TrainOptions(
        "inlining",
        algorithm,
        corpus.root,
        tmp_path / "run",
        iterations=1,
        modules_per_iteration=2,
        validation_fraction=0.0,
        gin_bindings=bindings,
        baseline_cache=tmp_path / "baselines",
    )
    summary = train(options, pool)
    (record,) = summary.records
    compiles = record["jobs_ok"] if algorithm == "es" else record["modules_ok"]
    assert compiles == (2 * 2 + 2 if algorithm == "es" else 2) and record["seconds_score"] > 0
    assert json.loads((summary.output / "config.json").read_text())["trainer"]["reward_size"] == "linked"
    assert list((tmp_path / "baselines" / "linked" / "links").rglob("*.json"))


def test_reward_size_is_checked():
    assert TrainerConfig().reward_size == "object" and trainer_config(reward_size="linked").reward_size == "linked"
    with pytest.raises(MlgoError, match="reward_size must be one of"):
        TrainerConfig(reward_size="shipped")
