"""LLVM's training-log format: round trips, every tensor type, malformed input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from compiler_opt.llvm.log_format import LogFormatError, LogHeader, LogReader, LogWriter, TensorSpec

ALL_TYPES = [
    "float",
    "double",
    "int8_t",
    "uint8_t",
    "int16_t",
    "uint16_t",
    "int32_t",
    "uint32_t",
    "int64_t",
    "uint64_t",
]


def _header(with_score: bool = True) -> LogHeader:
    features = [TensorSpec(f"f_{t}", (2, 3) if i % 2 else (1,), t, port=i) for i, t in enumerate(ALL_TYPES)]
    score = TensorSpec("reward", (1,), "float") if with_score else None
    return LogHeader(features, score=score, advice=TensorSpec("decision", (1,), "int64_t"))


def _values(header: LogHeader, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {spec.name: rng.integers(0, 100, size=spec.shape).astype(spec.dtype) for spec in header.features}


def test_round_trip_all_types_contexts_and_outcomes():
    header = _header()
    stream = io.BytesIO()
    writer = LogWriter(stream, header)
    written = []
    for index in range(5):
        values = _values(header, index)
        context = "first" if index < 3 else "second"
        writer.observation_from_arrays(index, values, context)
        if index % 2 == 0:
            writer.outcome(index, [index * 0.5])
        written.append((context, values, index * 0.5 if index % 2 == 0 else None))
    stream.seek(0)
    reader = LogReader(stream)
    assert reader.header.to_json() == header.to_json()
    records = list(reader)
    assert len(records) == 5
    for record, (context, values, score) in zip(records, written):
        assert record.context == context
        for name, value in values.items():
            np.testing.assert_array_equal(record.observation[name], value)
            assert record.observation[name].dtype == value.dtype
        assert (record.score is None) == (score is None)
        if score is not None:
            assert record.score[0] == pytest.approx(score)


def test_writer_matches_llvm_byte_layout():
    """Header JSON then `{"observation":N}`, raw little-endian tensors, newline (TrainingLogger.cpp)."""
    header = LogHeader([TensorSpec("a", (1,), "int64_t"), TensorSpec("b", (2,), "float")])
    stream = io.BytesIO()
    LogWriter(stream, header).observation_from_arrays(0, {"a": [7], "b": [1.5, -2.0]}, "fn")
    lines = stream.getvalue().split(b"\n", 3)
    assert json.loads(lines[0])["features"][1] == {"name": "b", "port": 0, "shape": [2], "type": "float"}
    assert lines[1] == b'{"context": "fn"}'
    assert lines[2] == b'{"observation":0}'
    assert lines[3] == (7).to_bytes(8, "little") + np.array([1.5, -2.0], "<f4").tobytes() + b"\n"


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty log"),
        (b"not json\n", "malformed log header"),
        (b'{"features": [{"name": "a", "shape": [1], "type": "complex"}]}\n', "unsupported type"),
        (b'{"features": [{"name": "a", "shape": [1], "type": "int64_t"}]}\n{"observation":0}\n123', "ends inside"),
        (b'{"features": [{"name": "a", "shape": [1], "type": "int64_t"}]}\n{"observation":0}\n12345678X', "newline"),
        (b'{"features": [{"name": "a", "shape": [1], "type": "int64_t"}]}\n{"what":0}\n', "unexpected log line"),
    ],
)
def test_malformed_logs_raise(data, words):
    with pytest.raises(LogFormatError, match=words):
        list(LogReader(io.BytesIO(data)))


def test_observation_size_must_match_header():
    writer = LogWriter(io.BytesIO(), LogHeader([TensorSpec("a", (1,), "int64_t")]))
    with pytest.raises(LogFormatError, match="8"):
        writer.observation(0, b"\x00" * 4)
