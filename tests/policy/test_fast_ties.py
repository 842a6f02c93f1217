"""One observation gets the same logits, to the bit, alone (`greedy`, `sample`) or in a batch (export
verification, behavioural cloning); candidates with equal features tie exactly, and every form takes the
first of them, as TF's argmax (and XLA's) does.

The eviction observations are real clang-19 ones with one candidate's features copied into every later
slot, the last included (where a BLAS matrix-vector product sums the remainder row in another order)."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.llvm.log_format import Observation
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import build_feature_spec
from compiler_opt.policy.vocab import compute_vocab
from tests.policy.conftest import batch_features, record

CANDIDATES = 33
CONFIG = NetworkConfig(fc_layer_params=(24, 12), identity=("mask",), head="masked_candidates", mask="mask")


def _with_copies(observation: Observation, source: int) -> Observation:
    """`observation` with candidate `source`'s features copied into every candidate after it."""
    raw = bytearray(observation.raw)
    for slot in observation.header.slots.values():
        if slot.spec.element_count == CANDIDATES:
            values = np.ndarray((CANDIDATES,), slot.spec.dtype, raw, slot.offset)
            values[source + 1 :] = values[source]
    return Observation(observation.context, observation.index, bytes(raw), observation.header)


@pytest.fixture(scope="module")
def eviction(toolchain, modules, tmp_path_factory):
    """A seeded random eviction actor, its fast form, and real observations given tied candidates."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights

    header, observations = record(
        toolchain, modules["pressure"], "regalloc-eviction", "random", tmp_path_factory.mktemp("ties")
    )
    spec = build_feature_spec(header, num_actions=CANDIDATES)
    vocab = compute_vocab(observations, spec, quantiles=100)
    tf.random.set_seed(3)
    actor = actor_network(spec, vocab, CONFIG)
    fast = FastPolicy(spec, vocab, CONFIG, actor_weights(actor))
    # The best candidate of each decision (before the last) is copied over every candidate after it.
    best = [int(np.argmax(fast.observations_logits([o])[0])) for o in observations]
    tied = [(_with_copies(o, b), b) for o, b in zip(observations, best) if b < CANDIDATES - 1]
    assert len(tied) > 20
    return actor, fast, spec, tied


def test_tied_candidates_score_alike_and_the_first_wins_in_every_form(eviction):
    actor, fast, spec, tied = eviction
    observations = [o for o, _ in tied]
    first = [b for _, b in tied]
    one_by_one = np.stack([fast.observation_logits(o) for o in observations])
    for logits, b in zip(one_by_one, first):
        assert (logits[b:] == logits[b]).all(), (b, logits[b:] - logits[b])
    assert np.array_equal(fast.observations_logits(observations), one_by_one)
    assert np.array_equal(fast.logits_batch(batch_features(observations, spec)), one_by_one)
    assert [fast.greedy(o) for o in observations] == first
    output, _ = actor(batch_features(observations, spec), step_type=None, network_state=())
    expected = output.logits.numpy()
    # TF's own product (Eigen, threaded) ties them to float32 rounding only on some CPUs (AMD EPYC); where its
    # row ties exactly, its argmax is the first too.
    assert all(np.allclose(row[b:], row[b], rtol=1e-6, atol=1e-6) for row, b in zip(expected, first))
    exact = [(row, b) for row, b in zip(expected, first) if (row[b:] == row[b]).all()]
    assert all(int(row.argmax()) == b for row, b in exact)


def test_inlining_logits_are_bit_identical_alone_and_batched(
    inlining_actor, inlining_spec, inlining_vocab, config, inlining_default, inlining_always
):
    from compiler_opt.policy.networks import actor_weights

    fast = FastPolicy(inlining_spec, inlining_vocab, config, actor_weights(inlining_actor))
    for _, observations in (inlining_default, inlining_always):  # a batch shares one header
        one_by_one = np.stack([fast.observation_logits(o) for o in observations])
        assert np.array_equal(fast.observations_logits(observations), one_by_one)
        assert np.array_equal(fast.logits_batch(batch_features(observations, inlining_spec)), one_by_one)
