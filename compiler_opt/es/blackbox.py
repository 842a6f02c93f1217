"""Evolution strategies as plain numpy: perturbations, the gradient estimate, and the optimizers.

Everything here works on one flat float64 parameter vector `theta` and knows
nothing of compilers or TensorFlow:

- `perturbation(seed, size)`: a standard normal direction drawn from its own
  seed, so a worker rebuilds the direction from the seed alone (a few bytes
  per job instead of the whole vector) and a step is reproducible;
- `estimate_gradient`: the antithetic Monte Carlo estimate
  `g = 1/(n sigma) sum_i w_i eps_i` over the surviving pairs, where `w_i` is
  `(s_i+ - s_i-) / 2` on raw scores, or the same on centered ranks with
  fitness shaping (ranks over all 2n scores mapped to [-0.5, 0.5], which
  ignores the scale of the scores and damps outliers); with `top_k`, only the
  k pairs whose better side scored highest count (ARS's direction filter);
- `Optimizer`: gradient *ascent* (scores are rewards) with SGD + momentum or
  Adam; its state is a dict of arrays, so it checkpoints and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

OPTIMIZERS = ("sgd", "adam")


def perturbation(seed: int, size: int) -> np.ndarray:
    """The unit-variance Gaussian direction of `seed` (float64, length `size`)."""
    return np.random.default_rng(seed).standard_normal(size)


def centered_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks of `values` mapped linearly onto [-0.5, 0.5] (ties broken by position; one value maps to 0)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return np.zeros_like(values)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[np.argsort(values, kind="stable")] = np.arange(values.size, dtype=np.float64)
    return ranks / (values.size - 1) - 0.5


@dataclass(frozen=True)
class GradientEstimate:
    """The estimate and what it was made of: pairs used, and the weight of each pair's direction."""

    gradient: np.ndarray
    pairs_used: int
    weights: np.ndarray


def estimate_gradient(
    directions: Sequence[np.ndarray],
    positive: Sequence[float],
    negative: Sequence[float],
    noise_scale: float,
    *,
    rank_shaping: bool = True,
    top_k: int | None = None,
) -> GradientEstimate:
    """The antithetic estimate of the score's gradient from pairs (direction, score at +, score at -)."""
    if not directions:
        raise ValueError("no perturbation pair to estimate a gradient from")
    if not len(directions) == len(positive) == len(negative):
        raise ValueError("directions, positive and negative scores must pair up")
    if noise_scale <= 0:
        raise ValueError(f"noise_scale must be positive, got {noise_scale}")
    plus, minus = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    keep = np.arange(len(directions))
    if top_k is not None and top_k < len(directions):
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        keep = np.sort(np.argsort(-np.maximum(plus, minus), kind="stable")[:top_k])
    plus, minus = plus[keep], minus[keep]
    if rank_shaping:
        shaped = centered_ranks(np.concatenate([plus, minus]))
        plus, minus = shaped[: keep.size], shaped[keep.size :]
    weights = (plus - minus) / 2.0
    stacked = np.stack([directions[i] for i in keep])
    gradient = weights @ stacked / (keep.size * noise_scale)
    return GradientEstimate(gradient, int(keep.size), weights)


class Optimizer:
    """Gradient ascent on `theta`: `step(theta, gradient)` returns the new parameters.

    `sgd`: `v = momentum v + g; theta += lr v`. `adam`: Kingma & Ba with bias
    correction, `theta += lr m_hat / (sqrt(v_hat) + eps)`. `l2` shrinks
    `theta` toward 0 (added as `-l2 theta` to the gradient).
    """

    def __init__(
        self,
        kind: str,
        size: int,
        learning_rate: float,
        *,
        momentum: float = 0.9,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        l2: float = 0.0,
    ) -> None:
        if kind not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}; choose one of: {', '.join(OPTIMIZERS)}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.kind, self.learning_rate, self.momentum = kind, learning_rate, momentum
        self.beta1, self.beta2, self.epsilon, self.l2 = beta1, beta2, epsilon, l2
        self.state: dict[str, np.ndarray] = {"t": np.zeros((), np.int64)}
        if kind == "sgd":
            self.state["velocity"] = np.zeros(size)
        else:
            self.state["m"], self.state["v"] = np.zeros(size), np.zeros(size)

    def step(self, theta: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        gradient = gradient - self.l2 * theta
        state = self.state
        state["t"] = state["t"] + 1
        if self.kind == "sgd":
            state["velocity"] = self.momentum * state["velocity"] + gradient
            return theta + self.learning_rate * state["velocity"]
        t = int(state["t"])
        state["m"] = self.beta1 * state["m"] + (1 - self.beta1) * gradient
        state["v"] = self.beta2 * state["v"] + (1 - self.beta2) * gradient * gradient
        m_hat = state["m"] / (1 - self.beta1**t)
        v_hat = state["v"] / (1 - self.beta2**t)
        return theta + self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        missing = set(self.state) - set(state)
        if missing:
            raise ValueError(f"the optimizer state lacks {sorted(missing)} (a {self.kind} state was expected)")
        self.state = {key: np.array(state[key]) for key in self.state}
