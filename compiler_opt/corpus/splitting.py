"""Splitting modules into two sides by a hash of their names (training and validation, fit and hold-out).

A module's side depends on its name alone (and a salt naming the split), so
the same module lands on the same side in every run and on every machine,
and adding modules never moves existing ones. Different salts give
independent splits of the same names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar

from compiler_opt.corpus.layout import CorpusError


class NamedModule(Protocol):
    """What splitting needs of a module (a `ModuleSpec`): its name."""

    @property
    def name(self) -> str: ...


M = TypeVar("M", bound=NamedModule)

__all__ = ["NamedModule", "in_fraction", "split_by_name"]


def in_fraction(name: str, fraction: float, salt: str = "") -> bool:
    """Whether `name` (hashed after `salt`) falls in the first `fraction` of the hash space."""
    digest = hashlib.sha256((salt + name).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_by_name(modules: Sequence[M], validation_fraction: float) -> tuple[list[M], list[M]]:
    """(training, validation): about `validation_fraction` of `modules` on the validation side, chosen by name."""
    if not 0.0 <= validation_fraction <= 1.0:
        raise CorpusError(f"validation fraction must be between 0 and 1 (got {validation_fraction})")
    training: list[M] = []
    validation: list[M] = []
    for spec in modules:
        side = validation if in_fraction(spec.name, validation_fraction) else training
        side.append(spec)
    return training, validation
