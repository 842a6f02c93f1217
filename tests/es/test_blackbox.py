"""The ES arithmetic on functions whose gradient is known: estimates, shaping, filtering and the optimizers."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.es.blackbox import Optimizer, centered_ranks, estimate_gradient, perturbation


def _pairs(score, theta, sigma, count, seed=0):
    seeds = range(seed, seed + count)
    directions = [perturbation(s, theta.size) for s in seeds]
    plus = [score(theta + sigma * d) for d in directions]
    minus = [score(theta - sigma * d) for d in directions]
    return directions, plus, minus


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_direction_is_a_pure_function_of_its_seed():
    assert np.array_equal(perturbation(7, 50), perturbation(7, 50))
    assert not np.array_equal(perturbation(7, 50), perturbation(8, 50))
    assert abs(perturbation(3, 100_000).std() - 1) < 0.01


def test_antithetic_estimate_of_a_linear_score_points_along_its_gradient():
    true = np.linspace(-1, 1, 20)
    theta = np.zeros(20)
    directions, plus, minus = _pairs(lambda x: float(true @ x) + 3.0, theta, 0.1, 400)
    raw = estimate_gradient(directions, plus, minus, 0.1, rank_shaping=False)
    assert raw.pairs_used == 400
    assert _cosine(raw.gradient, true) > 0.95
    # Unshaped, the estimate is unbiased: its scale matches the true gradient's.
    assert np.linalg.norm(raw.gradient) == pytest.approx(np.linalg.norm(true), rel=0.2)
    shaped = estimate_gradient(directions, plus, minus, 0.1, rank_shaping=True)
    assert _cosine(shaped.gradient, true) > 0.9
    assert np.all(np.abs(shaped.weights) <= 0.5)


def test_rank_shaping_ignores_the_scale_and_an_outlier():
    true = np.array([1.0, -2.0, 0.5])
    directions, plus, minus = _pairs(lambda x: float(true @ x), np.zeros(3), 0.05, 64)
    base = estimate_gradient(directions, plus, minus, 0.05).gradient
    scaled = estimate_gradient(directions, [1e6 * p for p in plus], [1e6 * m for m in minus], 0.05).gradient
    assert np.allclose(base, scaled)
    outlier = list(plus)
    outlier[0] = 1e9
    assert _cosine(estimate_gradient(directions, outlier, minus, 0.05).gradient, true) > 0.8


def test_top_k_keeps_the_pairs_whose_better_side_scored_best():
    directions = [np.eye(3)[i] for i in range(3)]
    estimate = estimate_gradient(directions, [0.1, 0.9, 0.2], [0.0, 0.3, 0.8], 1.0, rank_shaping=False, top_k=2)
    assert estimate.pairs_used == 2
    # Pairs 1 (best side 0.9) and 2 (0.8) are kept; pair 0 contributes nothing.
    assert estimate.gradient[0] == 0.0
    assert estimate.gradient[1] == pytest.approx((0.9 - 0.3) / 2 / 2)
    assert estimate.gradient[2] == pytest.approx((0.2 - 0.8) / 2 / 2)


def test_centered_ranks():
    assert np.allclose(centered_ranks(np.array([3.0, -1.0, 10.0])), [0.0, -0.5, 0.5])
    assert np.allclose(centered_ranks(np.array([5.0])), [0.0])


@pytest.mark.parametrize("kind, rate", [("sgd", 0.05), ("adam", 0.05)])
def test_optimizers_climb_a_concave_score(kind, rate):
    optimum = np.array([1.0, -2.0, 3.0])
    theta = np.zeros(3)
    optimizer = Optimizer(kind, 3, rate, momentum=0.5)
    for _ in range(400):
        theta = optimizer.step(theta, -2 * (theta - optimum))
    assert np.allclose(theta, optimum, atol=0.05)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_an_optimizer_resumed_from_its_state_takes_the_same_steps(kind):
    rng = np.random.default_rng(0)
    gradients = rng.standard_normal((6, 4))
    straight = Optimizer(kind, 4, 0.01)
    theta = np.ones(4)
    for g in gradients:
        theta = straight.step(theta, g)
    first = Optimizer(kind, 4, 0.01)
    resumed_theta = np.ones(4)
    for g in gradients[:3]:
        resumed_theta = first.step(resumed_theta, g)
    second = Optimizer(kind, 4, 0.01)
    second.load_state({k: v.copy() for k, v in first.state.items()})
    for g in gradients[3:]:
        resumed_theta = second.step(resumed_theta, g)
    assert np.array_equal(theta, resumed_theta)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        Optimizer("rmsprop", 3, 0.1)
    with pytest.raises(ValueError, match="no perturbation pair"):
        estimate_gradient([], [], [], 0.1)
    with pytest.raises(ValueError, match="noise_scale"):
        estimate_gradient([np.ones(2)], [1.0], [0.0], 0.0)
    with pytest.raises(ValueError, match="lacks"):
        Optimizer("adam", 2, 0.1).load_state({"t": np.zeros(())})
