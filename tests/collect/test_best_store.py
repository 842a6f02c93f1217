"""The best-trajectory store: only improves, survives a write cut short, replays byte for byte, invalidates by key."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.best_store import BestTrajectoryStore
from compiler_opt.collect.compile_job import replay_actions
from compiler_opt.collect.explore import ExploreTask, run_explore_task
from compiler_opt.collect.explore_round import ExploreSettings, explore_round
from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.training.config import TrainerConfig

INLINING = get_problem("inlining")


@pytest.fixture(scope="module")
def exploration(toolchain, module, fast_policy):
    return run_explore_task(ExploreTask(module, "inlining", str(toolchain.clang), flips=3, depth=1), fast_policy)


def _worst_first(exploration):
    return sorted(exploration.candidates, key=lambda c: -c.value)


def test_the_store_only_ever_improves(tmp_path, toolchain, module, exploration):
    store = BestTrajectoryStore(tmp_path, toolchain, INLINING)
    assert store.get(module) is None
    worst, *_ = _worst_first(exploration)
    best = exploration.best_candidate
    assert store.offer(module, worst, 1000.0, {"round": 1})
    if best.value < worst.value:
        assert store.offer(module, best, 1000.0, {"round": 2})
    assert not store.offer(module, worst, 1000.0, {"round": 3})
    assert not store.offer(module, best, 1000.0, {"round": 4})  # a tie is no improvement
    entry = store.get(module)
    assert entry is not None and entry.value == best.value and entry.found["round"] in (1, 2)
    np.testing.assert_array_equal(entry.actions, best.actions.reshape(-1))
    files = sorted(p.name for p in tmp_path.rglob("*.npz"))
    assert files == [entry.trajectory_file]  # the replaced entry's trajectory is gone


def test_an_equal_value_with_a_smaller_object_wins_the_tie(tmp_path, toolchain, module, exploration):
    """A linked value ties where the linker merges what an object saves; the smaller object is the better label."""
    store = BestTrajectoryStore(tmp_path, toolchain, INLINING, scorer="linked")
    best = exploration.best_candidate
    larger = dataclasses.replace(best, score=dataclasses.replace(best.score, value=best.score.value + 8))
    assert larger.rank > best.rank
    assert store.offer(module, larger, 1000.0, {"round": 1})
    assert store.offer(module, best, 1000.0, {"round": 2})
    assert not store.offer(module, larger, 1000.0, {"round": 3})
    entry = store.get(module)
    assert entry is not None and entry.found["round"] == 2 and entry.object_value == best.score.value


def test_an_entry_without_its_object_value_keeps_its_ties(tmp_path, toolchain, module, exploration):
    store = BestTrajectoryStore(tmp_path, toolchain, INLINING)
    best = exploration.best_candidate
    assert store.offer(module, best, 1000.0, {"round": 1})
    path = next(tmp_path.rglob("*.json"))
    data = json.loads(path.read_text())
    del data["object_value"]  # as written before the store kept it
    path.write_text(json.dumps(data))
    smaller = dataclasses.replace(best, score=dataclasses.replace(best.score, value=best.score.value - 8))
    assert not store.offer(module, smaller, 1000.0, {"round": 2})
    assert store.get(module).object_value is None
    assert store.offer(module, dataclasses.replace(best, value=best.value - 1), 1000.0, {"round": 3})


def test_the_stored_sequence_replays_to_the_stored_size_byte_for_byte(tmp_path, toolchain, module, exploration):
    store = BestTrajectoryStore(tmp_path, toolchain, INLINING)
    store.offer(module, exploration.best_candidate, 1000.0, {"round": 1})
    entry = store.get(module)
    assert entry is not None
    replayed = replay_actions(module, "inlining", str(toolchain.clang), entry.actions, keep_object=True)
    assert replayed.score.value == entry.value
    assert replayed.score.figures == entry.figures
    trajectory = store.trajectory(entry)
    assert trajectory is not None
    np.testing.assert_array_equal(trajectory.actions.reshape(-1), entry.actions)
    for name, values in exploration.best_candidate.trajectory.features.items():
        np.testing.assert_array_equal(trajectory.features[name], values)


def test_a_write_cut_short_leaves_the_old_entry(tmp_path, toolchain, module, exploration, monkeypatch):
    store = BestTrajectoryStore(tmp_path, toolchain, INLINING)
    best = exploration.best_candidate
    old = dataclasses.replace(best, value=best.value + 1)
    store.offer(module, old, 1000.0, {"round": 1})

    def killed(source, destination):
        raise KeyboardInterrupt  # the process dies between writing the temporary file and renaming it

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.offer(module, best, 1000.0, {"round": 2})
    monkeypatch.undo()
    entry = store.get(module)
    assert entry is not None and entry.value == old.value and entry.found["round"] == 1
    assert store.trajectory(entry) is not None
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_changed_compiler_or_scorer_misses(tmp_path, toolchain, module):
    keys = {
        BestTrajectoryStore(tmp_path, toolchain, INLINING).key(module),
        BestTrajectoryStore(tmp_path, dataclasses.replace(toolchain, version_text="clang 99"), INLINING).key(module),
        BestTrajectoryStore(tmp_path, toolchain, INLINING, scorer="linked").key(module),
    }
    assert len(keys) == 3


def test_an_exploration_round_offers_each_modules_best(tmp_path, toolchain, corpus, fast_policy):
    modules = [corpus.module(name) for name in ("lz4/xxhash", "lz4/lz4")]
    store = BestTrajectoryStore(tmp_path / "best", toolchain, INLINING)
    baselines = BaselineCache(tmp_path / "baselines", toolchain, INLINING)
    settings = dataclasses.replace(TrainerConfig(), deadline_grace_seconds=None, deadline_quorum=1.0)
    with LocalPool(2) as pool:
        figures = explore_round(
            pool,
            fast_policy,
            modules,
            INLINING,
            toolchain,
            baselines,
            store,
            ModuleBook(),
            round=1,
            settings=settings,
            explore=ExploreSettings(flips=1, depth=1, references=("default",)),
            found={"round": 1},
        )
    assert figures.modules_ok == 2 and figures.improved == 2 and not figures.failures
    assert figures.store_total == figures.best_total <= figures.baseline_total  # the default is a candidate
    assert figures.best_total <= figures.policy_total
    entries = store.entries(modules)
    assert set(entries) == {"lz4/xxhash", "lz4/lz4"}
    assert sum(entry.value for entry in entries.values()) == figures.store_total
