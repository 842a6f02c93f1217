"""The reward: relative size against the baseline, centered by a per-module moving average."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from compiler_opt.collect.reward import RewardTracker, relative_reward


def test_relative_reward_sign_and_scale():
    assert relative_reward(1000, 1000, 10) == 0.0
    assert relative_reward(990, 1000, 0) == pytest.approx(0.01)  # 1% smaller: +0.01
    assert relative_reward(1010, 1000, 0) == pytest.approx(-0.01)
    assert relative_reward(90, 100, 10) == pytest.approx(1 - 100 / 110)
    # delta damps tiny modules: 4 bytes less on a 40-byte module counts less than 10%
    assert 0 < relative_reward(36, 40, 10) < relative_reward(36, 40, 0) == pytest.approx(0.1)
    assert relative_reward(0, 0, 10) == 0.0  # an empty text section stays finite


@pytest.mark.parametrize("policy, baseline, delta", [(10, 0, 0), (10, -20, 10), (math.nan, 10, 1), (10, math.inf, 1)])
def test_relative_reward_refuses_meaningless_scores(policy, baseline, delta):
    with pytest.raises(ValueError):
        relative_reward(policy, baseline, delta)


def test_tracker_centers_each_module_by_its_own_moving_average():
    tracker = RewardTracker(delta=0.0, decay=0.5)
    first = tracker.reward("a", 900, 1000)  # raw 0.1, first visit judged against -Oz (average 0)
    assert first.raw == pytest.approx(0.1) and first.average == 0.0 and first.value == pytest.approx(0.1)
    second = tracker.reward("a", 900, 1000)  # same result again: average 0.05 now
    assert second.average == pytest.approx(0.05) and second.value == pytest.approx(0.05)
    third = tracker.reward("a", 1000, 1000)  # back to -Oz: worse than usual for this module
    assert third.average == pytest.approx(0.075) and third.value == pytest.approx(-0.075)
    other = tracker.reward("b", 1000, 1000)  # another module has its own average
    assert other.average == 0.0 and other.value == 0.0
    assert tracker.averages == pytest.approx({"a": 0.0375, "b": 0.0})


def test_tracker_state_round_trips_through_json():
    tracker = RewardTracker(delta=5.0, decay=0.8)
    tracker.reward("m", 95, 100)
    restored = RewardTracker.from_json(json.loads(json.dumps(tracker.to_json())))
    assert (restored.delta, restored.decay, restored.averages) == (5.0, 0.8, tracker.averages)
    assert restored.reward("m", 95, 100) == tracker.reward("m", 95, 100)


def test_tracker_refuses_a_decay_outside_its_range():
    with pytest.raises(ValueError, match="decay"):
        RewardTracker(decay=1.0)


def test_step_rewards_follow_each_functions_own_average():
    tracker = RewardTracker(delta=10.0, decay=0.5)
    step_function = np.array([0, 1, 1, 0, 2])
    first = tracker.step_rewards("m", ("f", "g", "h"), step_function, {"f": 10.0, "g": 30.0}, {"f": 10.0, "g": 10.0})
    # f ties the default, g costs more, h has no cost on either side (absent: 0).
    assert first.tolist() == pytest.approx([0.0, -1.0, -1.0, 0.0, 0.0])
    second = tracker.step_rewards("m", ("f", "g", "h"), step_function, {"f": 0.0, "g": 30.0}, {"f": 10.0, "g": 10.0})
    # g is judged against its own average (-0.5 after one visit), f against 0.
    assert second.tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5, 0.0])
    assert set(tracker.averages) == {"m:f", "m:g", "m:h"}
