"""Quantile vocabularies from real observations: values, file layout, streaming with a bounded sample."""

from __future__ import annotations

import io

import numpy as np
import pytest

from compiler_opt.collect.decision_log import trace_header
from compiler_opt.llvm.log_format import LogHeader, LogReader, LogWriter, TensorSpec
from compiler_opt.policy.features import build_feature_spec
from compiler_opt.policy.vocab import Vocab, VocabError, compute_vocab


def test_boundaries_are_sorted_observed_quantiles(inlining_observations, inlining_spec, inlining_vocab):
    for name in inlining_spec.names:
        values = np.concatenate([o[name].reshape(-1) for o in inlining_observations])
        bounds = inlining_vocab[name]
        assert bounds.dtype == np.int64
        assert np.all(np.diff(bounds) > 0), name
        assert set(bounds.tolist()) <= set(values.tolist()), name
        assert bounds[0] == values.min() and bounds[-1] == values.max(), name
        unique, counts = np.unique(values, return_counts=True)
        assert set(unique[counts > 2 * len(values) / 1000].tolist()) <= set(bounds.tolist()), name
    # A feature that varies across call sites gets many buckets.
    assert max(len(inlining_vocab[name]) for name in inlining_spec.names) > 50


def test_quantile_count_limits_boundaries(inlining_observations, inlining_spec):
    vocab = compute_vocab(inlining_observations, inlining_spec, quantiles=5)
    assert all(1 <= len(vocab[name]) <= 5 for name in inlining_spec.names)


def test_files_in_mlgo_layout_round_trip(inlining_vocab, inlining_spec, tmp_path):
    inlining_vocab.save(tmp_path / "vocab")
    files = sorted(p.name for p in (tmp_path / "vocab").iterdir())
    assert files == sorted(name + ".buckets" for name in inlining_spec.names)
    first = inlining_spec.names[0]
    lines = (tmp_path / "vocab" / f"{first}.buckets").read_text().splitlines()
    assert [int(line) for line in lines] == inlining_vocab[first].tolist()
    assert Vocab.load(tmp_path / "vocab") == inlining_vocab
    assert Vocab.load(tmp_path / "vocab", inlining_spec.names) == inlining_vocab


def test_missing_feature_file_names_it(tmp_path):
    Vocab({"a": np.array([1, 2])}).save(tmp_path)
    with pytest.raises(VocabError, match="lacks feature 'b'"):
        Vocab.load(tmp_path, ["a", "b"])


def test_float_boundaries_and_empty_vocab_round_trip(tmp_path):
    vocab = Vocab({"x": np.array([0.1, 1e-30, 2.5]), "never_seen": np.array([], np.int64)})
    vocab.save(tmp_path)
    loaded = Vocab.load(tmp_path)
    assert loaded["x"].tolist() == [1e-30, 0.1, 2.5]
    assert loaded["never_seen"].size == 0


def test_from_log_records_streaming_with_a_bounded_sample(inlining_default, inlining_spec):
    """A long stream (a trace log replayed 30 times) through a 500-row reservoir."""
    header, observations = inlining_default
    stream = io.BytesIO()
    writer = LogWriter(stream, trace_header(header))
    for observation in observations:
        writer.observation(observation.index, observation.raw + b"\0" * 8, observation.context)
    log = stream.getvalue()

    def records():
        for _ in range(30):
            yield from LogReader(io.BytesIO(log))

    vocab = compute_vocab(records(), inlining_spec, sample_size=500, seed=3)
    full = compute_vocab(observations, inlining_spec)
    for name in inlining_spec.names:
        assert set(vocab[name].tolist()) <= set(full[name].tolist())
    # The sample is seeded: the same stream gives the same vocabulary.
    assert compute_vocab(records(), inlining_spec, sample_size=500, seed=3) == vocab


def test_array_features_and_floats():
    header = LogHeader(
        [TensorSpec("mask", (1, 4), "int64_t"), TensorSpec("weight", (1,), "float")],
        advice=TensorSpec("index", (1,), "int64_t"),
    )
    spec = build_feature_spec(header, num_actions=4)
    rng = np.random.default_rng(0)
    stream = io.BytesIO()
    writer = LogWriter(stream, header)
    for index in range(200):
        writer.observation_from_arrays(index, {"mask": rng.integers(0, 2, (1, 4)), "weight": [rng.random()]})
    stream.seek(0)
    vocab = compute_vocab(LogReader(stream), spec, quantiles=10)
    assert vocab["mask"].tolist() == [0, 1]
    assert vocab["weight"].dtype == np.float64 and len(vocab["weight"]) == 10
