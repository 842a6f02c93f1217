"""LLVM's training-log format: the byte stream clang speaks on an interactive channel.

A log is one JSON header line, `{"features": [spec...], "score": spec,
"advice": spec}` (score and advice optional), followed by records:

    {"context": "<name>"}\\n                  optional; starts a new context
    {"observation": N}\\n<feature tensors>\\n  raw little-endian bytes, header order
    {"outcome": N}\\n<score tensor>\\n         optional, right after an observation

A tensor spec is `{"name", "port", "shape", "type"}` with LLVM's C type names.
`LogReader` reads files and streams (anything with `readline` and `read`),
`LogWriter` writes the same bytes, and the interactive channel parses clang's
stream with the same `LogHeader` and `Observation` classes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import numpy as np

from compiler_opt.errors import MlgoError

# LLVM's TensorSpec element types (llvm/Analysis/TensorSpec.h) and their numpy/struct forms.
_TYPES: dict[str, tuple[str, str]] = {
    "float": ("<f4", "f"),
    "double": ("<f8", "d"),
    "int8_t": ("<i1", "b"),
    "uint8_t": ("<u1", "B"),
    "int16_t": ("<i2", "h"),
    "uint16_t": ("<u2", "H"),
    "int32_t": ("<i4", "i"),
    "uint32_t": ("<u4", "I"),
    "int64_t": ("<i8", "q"),
    "uint64_t": ("<u8", "Q"),
}
_NUMPY_TO_LLVM = {np.dtype(numpy_code): name for name, (numpy_code, _) in _TYPES.items()}


class LogFormatError(MlgoError):
    """A malformed header or record, or a log that ends inside a record."""


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a log: name, port, shape and LLVM element type."""

    name: str
    shape: tuple[int, ...]
    type: str
    port: int = 0

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise LogFormatError(f"tensor {self.name!r} has unsupported type {self.type!r}")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_TYPES[self.type][0])

    @property
    def element_count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def byte_size(self) -> int:
        return self.element_count * self.dtype.itemsize

    @property
    def struct_format(self) -> str:
        return "<" + _TYPES[self.type][1] * self.element_count

    @classmethod
    def from_json(cls, data: Mapping) -> TensorSpec:
        try:
            return cls(
                name=str(data["name"]),
                shape=tuple(int(d) for d in data["shape"]),
                type=str(data["type"]),
                port=int(data.get("port", 0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise LogFormatError(f"bad tensor spec {data!r}: {error}") from error

    def to_json(self) -> dict:
        return {"name": self.name, "port": self.port, "shape": list(self.shape), "type": self.type}

    def encode(self, value) -> bytes:
        """The raw bytes of `value` (a scalar, sequence or array) as this tensor."""
        return np.ascontiguousarray(value, dtype=self.dtype).reshape(self.shape).tobytes()


@dataclass(frozen=True)
class _Slot:
    offset: int
    spec: TensorSpec


class LogHeader:
    """The parsed header: feature specs, optional score and advice specs, byte layout."""

    def __init__(
        self, features: Sequence[TensorSpec], score: TensorSpec | None = None, advice: TensorSpec | None = None
    ) -> None:
        self.features = tuple(features)
        self.score = score
        self.advice = advice
        self.slots: dict[str, _Slot] = {}
        offset = 0
        for spec in self.features:
            if spec.name in self.slots:
                raise LogFormatError(f"feature {spec.name!r} appears twice in the header")
            self.slots[spec.name] = _Slot(offset, spec)
            offset += spec.byte_size
        self.observation_size = offset

    @classmethod
    def parse(cls, line: bytes) -> LogHeader:
        try:
            data = json.loads(line)
            features = [TensorSpec.from_json(f) for f in data["features"]]
        except (ValueError, KeyError, TypeError) as error:
            raise LogFormatError(f"malformed log header {line[:200]!r}: {error}") from error
        score = TensorSpec.from_json(data["score"]) if data.get("score") else None
        advice = TensorSpec.from_json(data["advice"]) if data.get("advice") else None
        return cls(features, score, advice)

    def to_json(self) -> dict:
        data: dict = {"features": [spec.to_json() for spec in self.features]}
        if self.score is not None:
            data["score"] = self.score.to_json()
        if self.advice is not None:
            data["advice"] = self.advice.to_json()
        return data

    def scalar_reader(self, name: str) -> Callable[[bytes], int | float]:
        """A fast function reading feature `name`'s first element from an observation's raw bytes."""
        slot = self.slots[name]
        unpack = struct.Struct("<" + _TYPES[slot.spec.type][1]).unpack_from
        offset = slot.offset
        return lambda raw: unpack(raw, offset)[0]


class Observation:
    """One decision's features, decoded from the raw record bytes only when asked."""

    __slots__ = ("context", "index", "raw", "header")

    def __init__(self, context: str | None, index: int, raw: bytes, header: LogHeader) -> None:
        self.context = context
        self.index = index
        self.raw = raw
        self.header = header

    def __getitem__(self, name: str) -> np.ndarray:
        slot = self.header.slots[name]
        spec = slot.spec
        return np.frombuffer(self.raw, spec.dtype, spec.element_count, slot.offset).reshape(spec.shape)

    def scalar(self, name: str) -> int | float:
        """The first element of feature `name`, without making an array."""
        return self.header.scalar_reader(name)(self.raw)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {spec.name: self[spec.name] for spec in self.header.features}

    def __repr__(self) -> str:
        return f"Observation(context={self.context!r}, index={self.index})"


@dataclass
class LogRecord:
    """An observation read from a log, with its outcome (score) when the log has one."""

    observation: Observation
    score: np.ndarray | None = None

    @property
    def context(self) -> str | None:
        return self.observation.context


class ByteSource(Protocol):
    """What the record parser reads from: a file, or the channel's timed FIFO reader."""

    def readline(self) -> bytes: ...

    def read_exact(self, size: int) -> bytes: ...


class FileSource:
    """A `ByteSource` over a binary file object."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readline(self) -> bytes:
        return self._stream.readline()

    def read_exact(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise LogFormatError(f"log ends inside a record: wanted {size} bytes, got {len(data)}")
        return data


class RecordParser:
    """Turns the lines and tensors of a log body into observations and outcomes."""

    def __init__(self, source: ByteSource, header: LogHeader) -> None:
        self.source = source
        self.header = header
        self.context: str | None = None
        self._pending: bytes | None = None

    def next_line(self) -> bytes:
        if self._pending is not None:
            line, self._pending = self._pending, None
            return line
        return self.source.readline()

    def next_observation(self) -> Observation | None:
        """The next observation, or None at a clean end of the log."""
        while True:
            line = self.next_line()
            if not line:
                return None
            if line.startswith(b'{"observation":'):
                index = _json_int(line, b'{"observation":')
                body = self.source.read_exact(self.header.observation_size + 1)
                if body[-1:] != b"\n":
                    raise LogFormatError(f"observation {index}: record not terminated by a newline")
                return Observation(self.context, index, body[:-1], self.header)
            if line.startswith(b'{"context":'):
                try:
                    self.context = json.loads(line)["context"]
                except (ValueError, KeyError) as error:
                    raise LogFormatError(f"malformed context line {line[:200]!r}") from error
                continue
            if line == b"\n":
                continue
            raise LogFormatError(f"unexpected log line {line[:200]!r}")

    def next_outcome(self) -> np.ndarray | None:
        """The outcome following the last observation, if the log has one there."""
        line = self.next_line()
        if not line.startswith(b'{"outcome":'):
            self._pending = line
            return None
        if self.header.score is None:
            raise LogFormatError("outcome record in a log whose header has no score spec")
        spec = self.header.score
        body = self.source.read_exact(spec.byte_size + 1)
        if body[-1:] != b"\n":
            raise LogFormatError("outcome record not terminated by a newline")
        return np.frombuffer(body[:-1], spec.dtype).reshape(spec.shape)


def _json_int(line: bytes, prefix: bytes) -> int:
    try:
        return int(line[len(prefix) :].strip().rstrip(b"}"))
    except ValueError as error:
        raise LogFormatError(f"malformed record line {line[:200]!r}") from error


class LogReader:
    """Iterates the records of a log file or stream: `for record in LogReader(f)`."""

    def __init__(self, stream: BinaryIO) -> None:
        source = FileSource(stream)
        first = source.readline()
        if not first:
            raise LogFormatError("empty log: no header line")
        self.header = LogHeader.parse(first)
        self._parser = RecordParser(source, self.header)

    def __iter__(self) -> Iterator[LogRecord]:
        while True:
            observation = self._parser.next_observation()
            if observation is None:
                return
            yield LogRecord(observation, self._parser.next_outcome())


class LogWriter:
    """Writes a log: the header at construction, then contexts, observations, outcomes."""

    def __init__(self, stream: BinaryIO, header: LogHeader) -> None:
        self._stream = stream
        self.header = header
        self._context: str | None = None
        stream.write(json.dumps(header.to_json()).encode() + b"\n")

    def observation(self, index: int, raw: bytes, context: str | None = None) -> None:
        """One observation from the raw bytes of its features, in header order."""
        if len(raw) != self.header.observation_size:
            raise LogFormatError(
                f"observation {index}: {len(raw)} bytes, the header needs {self.header.observation_size}"
            )
        if context is not None and context != self._context:
            self._stream.write(json.dumps({"context": context}).encode() + b"\n")
            self._context = context
        self._stream.write(b'{"observation":%d}\n' % index + raw + b"\n")

    def observation_from_arrays(self, index: int, values: Mapping[str, object], context: str | None = None) -> None:
        """One observation from a mapping of feature name to value."""
        raw = b"".join(spec.encode(values[spec.name]) for spec in self.header.features)
        self.observation(index, raw, context)

    def outcome(self, index: int, value) -> None:
        if self.header.score is None:
            raise LogFormatError("this log's header has no score spec")
        self._stream.write(b'{"outcome":%d}\n' % index + self.header.score.encode(value) + b"\n")
