"""Splitting modules into two sides by hashes of names: by library (training and validation) or by module.

`split_by_library` keeps each library whole, so validation measures code bases
the policy never trained on. It works per language (a library counts as the
language most of its modules are in): the libraries of one language are
ranked by a hash of their names and taken in that order while taking one
brings the validation side closer to `validation_fraction` of that
language's modules. Libraries larger than half that share stay in training
when the smaller ones can fill it, so validation spans several code bases
rather than one large library. A language with two libraries or more gets
at least one on the validation side (the one whose size is nearest that
share), so a corpus of C and C++ libraries validates on both. The same libraries give the
same split in every run and on every machine; adding a library can move
others, since the share is of the language's modules. Held-out libraries
(those of a corpus's held-out programs, `compiler_opt.corpus.programs`) are
always on the validation side, counted in their language's share, so the
programs built from them measure code no policy trained on.

`split_by_name` (and `in_fraction`) decide per module by a hash of its name
(and a salt naming the split): adding modules never moves existing ones,
and different salts give independent splits of the same names. It splits
corpora that record no libraries, and runs that started before libraries
were split whole.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, TypeVar

from compiler_opt.corpus.layout import CorpusError


class NamedModule(Protocol):
    """What splitting by name needs of a module (a `ModuleSpec`): its name."""

    @property
    def name(self) -> str: ...


class LanguageModule(NamedModule, Protocol):
    """What splitting by library needs of a module (a `ModuleSpec`): its name and language."""

    @property
    def language(self) -> str: ...


M = TypeVar("M", bound=NamedModule)
L = TypeVar("L", bound=LanguageModule)

LIBRARY_SPLIT = "library"
MODULE_SPLIT = "module"

__all__ = [
    "LIBRARY_SPLIT",
    "MODULE_SPLIT",
    "LanguageModule",
    "NamedModule",
    "in_fraction",
    "split_by_library",
    "split_by_name",
]


def _position(name: str, salt: str = "") -> float:
    """Where `name` (hashed after `salt`) falls in the hash space, in [0, 1)."""
    digest = hashlib.sha256((salt + name).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_fraction(name: str, fraction: float, salt: str = "") -> bool:
    """Whether `name` (hashed after `salt`) falls in the first `fraction` of the hash space."""
    return _position(name, salt) < fraction


def _check_fraction(validation_fraction: float) -> None:
    if not 0.0 <= validation_fraction <= 1.0:
        raise CorpusError(f"validation fraction must be between 0 and 1 (got {validation_fraction})")


def split_by_name(modules: Sequence[M], validation_fraction: float) -> tuple[list[M], list[M]]:
    """(training, validation): about `validation_fraction` of `modules` on the validation side, chosen by name."""
    _check_fraction(validation_fraction)
    training: list[M] = []
    validation: list[M] = []
    for spec in modules:
        side = validation if in_fraction(spec.name, validation_fraction) else training
        side.append(spec)
    return training, validation


def split_by_library(
    modules: Sequence[L],
    validation_fraction: float,
    libraries: Mapping[str, Sequence[str]],
    held_out: Collection[str] = (),
) -> tuple[list[L], list[L]]:
    """(training, validation) of whole libraries, about `validation_fraction` of each language's modules.

    `libraries` maps library names to module names (a corpus's `libraries`); a
    module in none counts as a library of its own, one in several belongs to
    the first by name. The `held_out` libraries are always on the validation
    side (even with a fraction of 0). Each side keeps the order of `modules`.
    """
    _check_fraction(validation_fraction)
    owner: dict[str, str] = {}
    for library in sorted(libraries, reverse=True):
        owner.update(dict.fromkeys(libraries[library], library))
    units: dict[str, list[L]] = {}
    for spec in modules:
        units.setdefault(owner.get(spec.name, spec.name), []).append(spec)
    strata: dict[str, list[str]] = {}
    for unit, members in units.items():
        counts = Counter(spec.language for spec in members)
        strata.setdefault(max(sorted(counts), key=counts.__getitem__), []).append(unit)
    chosen = set(held_out) & units.keys()
    for names in strata.values():
        chosen |= _validation_units({name: len(units[name]) for name in names}, validation_fraction, chosen)
    training: list[L] = []
    validation: list[L] = []
    for spec in modules:
        (validation if owner.get(spec.name, spec.name) in chosen else training).append(spec)
    return training, validation


def _validation_units(sizes: Mapping[str, int], fraction: float, held_out: Collection[str]) -> set[str]:
    """The units (name -> module count) of one language that go to validation, the `held_out` ones first; see the
    module docstring."""
    target = fraction * sum(sizes.values())
    chosen = {name for name in sizes if name in held_out}
    taken = sum(sizes[name] for name in chosen)
    ranked = sorted((name for name in sizes if name not in chosen), key=lambda name: (_position(name), name))
    modest = [name for name in ranked if sizes[name] <= target / 2]
    if sum(sizes[name] for name in modest) >= target - taken:  # enough code bases of modest size: validate on several
        ranked = modest
    for name in ranked:
        if taken + sizes[name] / 2 < target:  # taking it brings the side nearer the target
            chosen.add(name)
            taken += sizes[name]
    if not chosen and fraction > 0 and len(ranked) >= 2:
        chosen.add(min(ranked, key=lambda name: abs(sizes[name] - target)))
    return chosen
