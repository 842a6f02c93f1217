"""A compile's decisions written in LLVM's training-log format, as LLVM's development mode writes them.

The log holds the compiler's features followed by the advice as one more
feature (named as the advice), so LLVM's own log readers and this project's
read it alike.
"""

from __future__ import annotations

from typing import BinaryIO

from compiler_opt.llvm.log_format import LogFormatError, LogHeader, LogWriter, Observation, TensorSpec

__all__ = ["DecisionLog", "trace_header"]


def trace_header(header: LogHeader) -> LogHeader:
    """The log header of a trace: the compiler's features plus the advice as a feature."""
    advice = header.advice
    if advice is None:
        raise LogFormatError("a trace's header needs the advice tensor the decisions answer")
    return LogHeader([*header.features, TensorSpec(advice.name, advice.shape, advice.type)], advice=advice)


class DecisionLog:
    """Writes each decision (what the compiler showed, the advice answered) to `stream`."""

    def __init__(self, stream: BinaryIO, header: LogHeader) -> None:
        traced = trace_header(header)
        self._writer = LogWriter(stream, traced)
        self._encode_advice = traced.features[-1].encode

    def write(self, observation: Observation, advice) -> None:
        self._writer.observation(observation.index, observation.raw + self._encode_advice(advice), observation.context)
