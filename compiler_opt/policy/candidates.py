"""Per-candidate views of a network input vector, for a head that scores each candidate of a decision alike.

Register-allocation eviction shows `C` candidates per decision: most
features are `[C]` vectors (one element per candidate) with a `mask` of the
valid ones, a few are scalars about the whole decision (`progress`). The
masked-candidate head runs one small scorer over every candidate, so it
needs, per candidate, the input columns that describe it:

    columns[c] = [q, sqrt q, q^2 of every bucketed [C] feature at c, and of every bucketed scalar]
                 + [every identity [C] feature at c, every identity scalar]

as indices into the preprocessed vector (its layout is fixed by
`compiler_opt.policy.preprocessing`), so the Keras network and the numpy
fast form gather the same columns. The mask feature must be an identity
feature (passed through as 0/1): its columns give the mask in both forms.
A masked-out candidate's logit is `MASKED_LOGIT`, whose probability is
exactly 0 in float32 and float64, so neither sampling nor argmax can pick it.

This module does not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.preprocessing import BUCKETS, CONSTANT, IDENTITY, FeatureTransform

MASKED_LOGIT = -1e9


@dataclass(frozen=True)
class CandidateLayout:
    """`columns[c]`: candidate c's input columns (`[C, k]`); `mask_columns[c]`: its mask column."""

    columns: np.ndarray
    mask_columns: np.ndarray

    @property
    def candidates(self) -> int:
        return int(self.columns.shape[0])

    @property
    def width(self) -> int:
        """How many inputs the per-candidate scorer takes."""
        return int(self.columns.shape[1])


def candidate_layout(transforms: Sequence[FeatureTransform], mask: str) -> CandidateLayout:
    """The per-candidate columns of the input vector `transforms` lay out; `mask` names the mask feature."""
    by_name = {t.name: t for t in transforms}
    if mask not in by_name:
        raise MlgoError(
            f"the masked-candidate head needs the mask feature {mask!r}, which the policy's features "
            f"lack (network_config.mask names it)"
        )
    if by_name[mask].kind != IDENTITY:
        raise MlgoError(f"the mask feature {mask!r} must pass through unbucketized: add it to network_config.identity")
    count = by_name[mask].size
    odd = [f"{t.name} ({t.size} elements)" for t in transforms if t.kind != CONSTANT and t.size not in (1, count)]
    if odd:
        raise MlgoError(
            f"the masked-candidate head takes features of {count} elements (one per candidate) or "
            f"scalars; these are neither: {', '.join(odd)}"
        )
    candidate = np.arange(count)
    bucket_offset, q_columns = 0, []
    for t in transforms:
        if t.kind == BUCKETS:
            q_columns.append(bucket_offset + (candidate if t.size == count else np.zeros(count, np.intp)))
            bucket_offset += t.size
    identity_offset, identity_columns, mask_columns = 3 * bucket_offset, [], None
    for t in transforms:
        if t.kind == IDENTITY:
            columns = identity_offset + (candidate if t.size == count else np.zeros(count, np.intp))
            identity_columns.append(columns)
            if t.name == mask:
                mask_columns = columns
            identity_offset += t.size
    assert mask_columns is not None  # the mask feature is an identity feature, checked above
    q = np.stack(q_columns, axis=1) if q_columns else np.zeros((count, 0), np.intp)
    parts = [q, q + bucket_offset, q + 2 * bucket_offset, *(c[:, None] for c in identity_columns)]
    return CandidateLayout(np.concatenate(parts, axis=1).astype(np.int64), mask_columns.astype(np.int64))


def masked_logits(scores: np.ndarray, inputs: np.ndarray, layout: CandidateLayout) -> np.ndarray:
    """`scores` `[..., C]` where the candidate is valid in `inputs` `[..., width]`, else `MASKED_LOGIT`."""
    valid = inputs[..., layout.mask_columns] > 0
    return np.where(valid, scores, np.float32(MASKED_LOGIT)).astype(np.float32, copy=False)
