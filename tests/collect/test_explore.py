"""Exploration with the real clang: flips only where asked, every explored trajectory replays to its size."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.collect.compile_job import CompileTask, replay_actions, run_compile_task
from compiler_opt.collect.explore import ExploreTask, least_certain_steps, run_explore_task


def test_least_certain_steps_picks_the_smallest_gaps_past_the_last_flip():
    logits = np.array([[0.0, 0.1], [0.0, 5.0], [2.0, 2.5], [1.0, -1.0], [3.0, 3.0]], np.float32)
    assert least_certain_steps(logits, after=-1, count=2) == [0, 4]
    assert least_certain_steps(logits, after=0, count=2) == [2, 4]
    assert least_certain_steps(logits, after=4, count=2) == []
    assert least_certain_steps(logits, after=-1, count=0) == []


@pytest.fixture(scope="module")
def exploration(toolchain, module, fast_policy):
    task = ExploreTask(module, "inlining", str(toolchain.clang), flips=2, depth=2, references=("rule",))
    return run_explore_task(task, fast_policy)


def test_the_greedy_candidate_is_the_policys_greedy_compile(toolchain, module, fast_policy, exploration):
    greedy = run_compile_task(
        CompileTask(module, "inlining", str(toolchain.clang), fast_policy, explore=False, record=False)
    )
    assert exploration.candidates[0].kind == "greedy"
    assert exploration.greedy.flips == ()
    np.testing.assert_array_equal(exploration.greedy.actions, greedy.actions)
    assert exploration.greedy.score.value == greedy.score.value


def test_flips_change_only_the_steps_asked(exploration):
    flipped = [c for c in exploration.candidates if c.kind == "flip"]
    assert flipped, "the random policy's module has decisions to flip"
    by_flips = {c.flips: c for c in exploration.candidates if c.kind in ("greedy", "flip")}
    for candidate in flipped:
        base = by_flips[candidate.flips[:-1]]
        step = candidate.flips[-1]
        np.testing.assert_array_equal(candidate.actions[:step], base.actions[:step])
        assert candidate.actions[step] != base.actions[step]
    assert len(flipped) <= 4  # depth 2 x flips 2
    best = exploration.best_candidate
    if best.kind == "flip":  # each flip it kept saved over its base
        assert len(best.gains) == len(best.flips) and all(gain > 0 for gain in best.gains)


def test_every_explored_trajectory_replays_to_its_recorded_size(toolchain, module, exploration):
    for candidate in exploration.candidates:
        replayed = replay_actions(module, "inlining", str(toolchain.clang), candidate.actions)
        assert replayed.score.value == candidate.score.value, candidate.kind


def test_the_best_is_the_smallest_and_keeps_its_trajectory(exploration, spec):
    values = [c.value for c in exploration.candidates]
    assert exploration.best_candidate.value == min(values)
    assert exploration.best == values.index(min(values))
    best = exploration.best_candidate
    assert best.trajectory is not None and set(best.trajectory.features) == set(spec.names)
    np.testing.assert_array_equal(best.trajectory.actions.reshape(-1), best.actions.reshape(-1))
    assert all(c.trajectory is None for c in exploration.candidates if c is not best)
    assert any(c.kind == "rule" for c in exploration.candidates)


@pytest.mark.parametrize("prefer", [False, True])
def test_a_tie_goes_to_the_policy_unless_references_are_preferred(toolchain, corpus, fast_policy, prefer):
    module = corpus.module("brotli/dec/bit_reader")  # no call site to decide: every compile is the same
    task = ExploreTask(module, "inlining", str(toolchain.clang), 0, 0, ("default",), prefer_references=prefer)
    exploration = run_explore_task(task, fast_policy)
    assert [c.kind for c in exploration.candidates] == ["greedy", "default"]
    assert exploration.candidates[0].value == exploration.candidates[1].value
    assert exploration.best_candidate.kind == ("default" if prefer else "greedy")
