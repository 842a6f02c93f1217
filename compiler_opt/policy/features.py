"""The feature spec: which compiler features a policy reads, and the advice it answers with.

A spec is built from the compiler's own log header at run time (never from a
hard-coded list), minus the names a problem excludes (e.g. the inliner's
`inlining_default`, which would hand the policy the answer), and minus the
advice itself when a trace header carries it as a last feature. It is saved
beside a policy as JSON and checked against every compiler the policy meets:
`check_compatible` refuses a header with missing, extra or retyped features
with one `MlgoError` that names them.

LLVM gives every tensor a leading batch dimension of 1 (`[1]` for a scalar,
`[1, 33]` for regalloc's per-candidate features); `policy_shape` drops it,
which is the per-step shape tf-agents specs use and the saved model restores
with its static batch size of 1.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, TensorSpec

SPEC_FILE = "feature_spec.json"
_FORMAT_VERSION = 1


class FeatureSpecError(MlgoError):
    """A compiler header that does not match a policy's feature spec, or a malformed spec file."""


def policy_shape(spec: TensorSpec) -> tuple[int, ...]:
    """The per-step shape of a compiler tensor: its shape without LLVM's leading batch dimension of 1."""
    shape = tuple(spec.shape)
    return shape[1:] if shape and shape[0] == 1 else shape


@dataclass(frozen=True)
class FeatureSpec:
    """The features a policy reads (compiler order), the advice it gives, and how many actions it has.

    `excluded` records the header names left out on purpose, so a compiler
    that sends them again is not taken for a different compiler.
    """

    features: tuple[TensorSpec, ...]
    advice: TensorSpec
    num_actions: int | None = None
    excluded: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise FeatureSpecError(f"feature names repeat in the spec: {repeated}")
        if self.advice.name in names:
            raise FeatureSpecError(f"the advice {self.advice.name!r} cannot also be a policy input")
        if not self.features:
            raise FeatureSpecError("a feature spec needs at least one feature")

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @property
    def action(self) -> TensorSpec:
        """What the policy outputs: the advice, except that a categorical advice of a float type (regalloc
        priority levels) is chosen as an int64 index, which the compiler receives as that float value."""
        if self.num_actions and self.advice.dtype.kind == "f":
            return dataclasses.replace(self.advice, type="int64_t")
        return self.advice

    def __getitem__(self, name: str) -> TensorSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            "version": _FORMAT_VERSION,
            "features": [{**spec.to_json(), "dtype": spec.dtype.name} for spec in self.features],
            "advice": {**self.advice.to_json(), "dtype": self.advice.dtype.name},
            "num_actions": self.num_actions,
            "excluded": list(self.excluded),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> FeatureSpec:
        try:
            features = tuple(TensorSpec.from_json(f) for f in data["features"])
            advice = TensorSpec.from_json(data["advice"])
            num_actions = data.get("num_actions")
            return cls(
                features, advice, None if num_actions is None else int(num_actions), tuple(data.get("excluded", ()))
            )
        except (KeyError, TypeError, ValueError) as error:
            raise FeatureSpecError(f"malformed feature spec: {error}") from error

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / SPEC_FILE
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FeatureSpec:
        path = Path(folder) / SPEC_FILE
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise FeatureSpecError(f"cannot read the feature spec {path}: {error}") from error

    def check_compatible(self, header: LogHeader, *, source: str = "the compiler") -> None:
        """Refuse `header` unless it sends every feature of this spec with the same type and shape.

        Extra header features are refused too, except the ones this spec
        excluded and the advice logged as a feature (trace logs).
        """
        theirs = {spec.name: spec for spec in header.features}
        ignored = set(self.excluded)
        if header.advice is not None:
            ignored.add(header.advice.name)
        ignored.add(self.advice.name)
        problems: list[str] = []
        missing = [name for name in self.names if name not in theirs]
        if missing:
            problems.append(f"missing features: {', '.join(missing)}")
        extra = [name for name in theirs if name not in ignored and name not in set(self.names)]
        if extra:
            problems.append(f"extra features: {', '.join(extra)}")
        retyped = [
            f"{spec.name} ({spec.type}{list(spec.shape)} in the policy, "
            f"{theirs[spec.name].type}{list(theirs[spec.name].shape)} from {source})"
            for spec in self.features
            if spec.name in theirs and (theirs[spec.name].type, theirs[spec.name].shape) != (spec.type, spec.shape)
        ]
        if retyped:
            problems.append(f"retyped features: {'; '.join(retyped)}")
        advice = header.advice
        if advice is not None and (advice.name, advice.type, advice.shape) != (
            self.advice.name,
            self.advice.type,
            self.advice.shape,
        ):
            problems.append(
                f"advice {advice.name} {advice.type}{list(advice.shape)} from {source}, the policy answers "
                f"{self.advice.name} {self.advice.type}{list(self.advice.shape)}"
            )
        if problems:
            raise FeatureSpecError(
                f"this policy does not fit {source}: "
                + "; ".join(problems)
                + ". Retrain (or rebuild the vocabulary and spec) with this compiler, or use the compiler the "
                "policy was trained with."
            )


def build_feature_spec(
    header: LogHeader,
    *,
    exclude: Collection[str] = (),
    num_actions: int | None = None,
    advice: TensorSpec | None = None,
) -> FeatureSpec:
    """The spec of `header`'s features minus `exclude` (names absent from the header are ignored).

    `advice` defaults to the header's; a feature named as the advice (trace
    logs carry it last) is never an input. `num_actions` is the advice's
    number of categories (2 for inlining) when it is categorical.
    """
    advice = advice or header.advice
    if advice is None:
        raise FeatureSpecError("the log header names no advice, so there is nothing for a policy to answer")
    dropped = set(exclude) | {advice.name}
    features = tuple(spec for spec in header.features if spec.name not in dropped)
    excluded = tuple(spec.name for spec in header.features if spec.name in set(exclude))
    return FeatureSpec(features, advice, num_actions, excluded)
