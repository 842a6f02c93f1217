"""Recorded observations, and the plain file the C++ check harness reads them from.

An `ObservationSet` holds N observations of a policy's features (feature
name -> `[N, *policy_shape]` array, the policy's spec order), the module and
step each came from, and the decision the policy took on it while compiling.

The harness file (`write_harness_file`) is a short text header followed by
the raw records, so the C++ side needs no JSON parser:

    mlgo-observations 1
    advice <name> <LLVM type> <bytes>
    features <K>
    <name> <LLVM type> <bytes>          K lines, in the order of the record bytes
    records <N>
    <N records: each feature's little-endian bytes, in the order above>

The harness looks every feature up by name in the compiled model
(`feed_<name>`), so the file's order need not match the model's arguments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.features import FeatureSpec, policy_shape

MAGIC = "mlgo-observations 1"


@dataclass(frozen=True)
class ObservationSet:
    """N observations of `spec`'s features, where each came from, and the decision taken on it."""

    spec: FeatureSpec
    features: dict[str, np.ndarray]
    modules: tuple[str, ...]
    steps: tuple[int, ...]
    decisions: np.ndarray

    def __post_init__(self) -> None:
        count = len(self.modules)
        for feature in self.spec.features:
            array = self.features.get(feature.name)
            expected = (count, *policy_shape(feature))
            if array is None or array.shape != expected:
                raise MlgoError(
                    f"recorded feature {feature.name!r} has shape "
                    f"{None if array is None else array.shape}, expected {expected}"
                )
        if len(self.steps) != count or len(self.decisions) != count:
            raise MlgoError("recorded observations, steps and decisions differ in number")

    def __len__(self) -> int:
        return len(self.modules)

    def row(self, index: int) -> dict[str, np.ndarray]:
        """Observation `index` as feature name -> per-step array."""
        return {name: values[index] for name, values in self.features.items()}

    def rows(self) -> Iterator[dict[str, np.ndarray]]:
        for index in range(len(self)):
            yield self.row(index)

    def describe(self, index: int) -> str:
        """One observation for a person: where it came from and its feature values."""
        values = ", ".join(f"{name}={_value_text(self.features[name][index])}" for name in self.spec.names)
        return f"observation {index} (module {self.modules[index]}, decision {self.steps[index]}): {values}"


def _value_text(value: np.ndarray) -> str:
    flat = np.asarray(value).reshape(-1)
    return str(flat[0].item()) if flat.size == 1 else "[" + " ".join(str(v.item()) for v in flat) + "]"


def write_harness_file(observations: ObservationSet, path: str | os.PathLike) -> Path:
    """Write `observations` in the harness's format (see the module docstring)."""
    spec = observations.spec
    lines = [
        MAGIC,
        f"advice {spec.advice.name} {spec.advice.type} {spec.advice.byte_size}",
        f"features {len(spec.features)}",
    ]
    lines += [f"{f.name} {f.type} {f.byte_size}" for f in spec.features]
    lines.append(f"records {len(observations)}")
    columns = [
        np.ascontiguousarray(observations.features[f.name], dtype=f.dtype.newbyteorder("<")).reshape(
            len(observations), -1
        )
        for f in spec.features
    ]
    records = (
        np.concatenate([c.view(np.uint8).reshape(len(observations), -1) for c in columns], axis=1)
        if len(observations)
        else np.zeros((0, 0), np.uint8)
    )
    path = Path(path)
    with open(path, "wb") as stream:
        stream.write(("\n".join(lines) + "\n").encode())
        stream.write(records.tobytes())
    return path
