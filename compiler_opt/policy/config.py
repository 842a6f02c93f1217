"""What shapes a policy's actor network (`NetworkConfig`), kept free of TensorFlow for the fast form.

`network_config` is the gin-configurable way to make one
(`network_config.fc_layer_params = (64, 64)` in a gin file); the config is
saved with a policy (`network.json`) so the TF network and the numpy fast
form can both be rebuilt from files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import gin

from compiler_opt.errors import MlgoError

ACTIVATIONS = ("relu", "tanh", "linear")
HEADS = ("categorical", "masked_candidates")


@dataclass(frozen=True)
class NetworkConfig:
    """Hidden layer sizes, activation, the features passed through unbucketized, derived differences, and the head.

    `differences`: pairs `(a, b)` of scalar integer features whose difference `a - b` the network also sees,
    bucketed on a fixed grid (`compiler_opt.policy.preprocessing.DIFFERENCE_BOUNDARIES`); computed inside the
    network, so exported models take the compiler's features unchanged. The inliner's own rule compares
    `cost_estimate` with `threshold`, a relation that quantile buckets of each feature alone hide.

    `head` names how the inputs become an action distribution: "categorical"
    is one choice among the spec's `num_actions` from one network over all
    inputs; "masked_candidates" scores each candidate with one shared
    network over that candidate's columns (`compiler_opt.policy.candidates`)
    and takes a softmax over the candidates the feature `mask` marks valid.
    """

    fc_layer_params: tuple[int, ...] = (40, 40, 20)
    activation: str = "relu"
    identity: tuple[str, ...] = ()
    head: str = "categorical"
    mask: str = ""
    differences: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for pair in self.differences:
            if len(pair) != 2 or not all(isinstance(name, str) and name for name in pair):
                raise MlgoError(f"network_config.differences takes pairs of feature names, got {pair!r}")
        if self.activation not in ACTIVATIONS:
            raise MlgoError(f"unknown activation {self.activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
        if self.head not in HEADS:
            raise MlgoError(f"unknown network head {self.head!r}; choose one of: {', '.join(HEADS)}")
        if (self.head == "masked_candidates") != bool(self.mask):
            raise MlgoError(
                "network_config.mask names the feature that marks valid candidates: the "
                "masked_candidates head needs it, and only that head takes one"
            )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> NetworkConfig:
        return cls(
            tuple(int(n) for n in data["fc_layer_params"]),
            str(data["activation"]),
            tuple(data.get("identity", ())),
            str(data.get("head", "categorical")),
            str(data.get("mask", "")),
            _pairs(data.get("differences", ())),
        )


def _pairs(pairs: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """`differences` as tuples (JSON and gin give lists); `NetworkConfig` checks that each is a pair."""
    return tuple(tuple(str(name) for name in pair) for pair in pairs)  # type: ignore[misc]


@gin.configurable(module="policy")
def network_config(
    fc_layer_params: Sequence[int] = (40, 40, 20),
    activation: str = "relu",
    identity: Sequence[str] = (),
    head: str = "categorical",
    mask: str = "",
    differences: Sequence[Sequence[str]] = (),
) -> NetworkConfig:
    """The actor's configuration, from gin bindings (defaults: MLGO's inlining actor, (40, 40, 20), relu)."""
    return NetworkConfig(
        tuple(int(n) for n in fc_layer_params), activation, tuple(identity), head, mask, _pairs(differences)
    )
