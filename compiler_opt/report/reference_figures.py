"""The reference policies' figures beside a learned policy's: per module, per project and language, per library.

A reference is an evaluation of a built-in policy other than the compiler's
own decisions replayed (`references.is_reference`: the inliner's hand rule,
say). Beside every other evaluation of the same problem and measurement, a
report shows each reference's change vs the default heuristic on the same
code, next to the policy's own:

- a group's (a project's, a language's) total and geomean change over the
  group's modules that both evaluations compiled;
- a module's own change;
- a linked library's change, from the reference's own links
  (`mlgo eval --linked`), over the libraries the policy linked;
- a runtime figure's change, per program.

Where an evaluation has linked sizes, a group's linked change (its
libraries' linked `.text`; a language's libraries are those most of whose
modules are in it) stands beside its per-object change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from compiler_opt.report.analysis import GroupTotal, geomean, languages, library_languages, linked_total, projects
from compiler_opt.report.inputs import Evaluation, LinkedLibrary, ModuleResult
from compiler_opt.report.references import is_reference

__all__ = ["GroupRow", "Reference", "Side", "language_rows", "project_rows", "references_for"]


@dataclass(frozen=True)
class Side:
    """One policy's changes (ratios to the default) over a group: total and geomean per object, and linked."""

    total: float | None
    geomean: float | None
    linked: float | None = None


@dataclass(frozen=True)
class Reference:
    """A reference evaluation shown beside a learned one, under its label."""

    label: str
    evaluation: Evaluation

    @cached_property
    def _modules(self) -> dict[str, ModuleResult]:
        return {m.name: m for m in self.evaluation.modules}

    @cached_property
    def _linked(self) -> dict[str, LinkedLibrary]:
        return {lib.library: lib for lib in self.evaluation.linked or ()}

    @property
    def has_linked(self) -> bool:
        return bool(self.evaluation.linked)

    def module_ratio(self, name: str) -> float | None:
        """The reference's change of module `name` (None where it has no ratio for it)."""
        module = self._modules.get(name)
        return None if module is None else module.ratio

    def side(self, modules: Iterable[ModuleResult], libraries: Iterable[str] = ()) -> Side:
        """Its changes over those of `modules` that it compiled too (`ok` ones), and over the `libraries` it
        linked."""
        shared = [(m, mine) for m in modules if m.ok and (mine := self._modules.get(m.name)) is not None and mine.ok]
        default = sum(mine.default or 0.0 for _, mine in shared)
        policy = sum(mine.policy or 0.0 for _, mine in shared)
        linked = linked_total(self._linked[name] for name in libraries if name in self._linked)
        return Side(
            policy / default if default > 0 else None,
            geomean(ratio for _, mine in shared if (ratio := mine.ratio) is not None),
            linked.ratio,
        )

    def runtime_ratio(self, program: str, figure: str) -> float | None:
        """Its change of a program's runtime figure (None without one)."""
        for entry in self.evaluation.runtime or ():
            if entry.program == program:
                default, policy = entry.figures.get(figure, (None, None))
                return policy / default if default and policy is not None else None
        return None


@dataclass(frozen=True)
class GroupRow:
    """A group of an evaluation's modules: its totals, the policy's changes, and each reference's beside them."""

    group: GroupTotal
    policy: Side
    references: tuple[Side, ...]


def references_for(
    evaluation: Evaluation, evaluations: Sequence[Evaluation], names: Sequence[str]
) -> tuple[Reference, ...]:
    """The references shown beside `evaluation` (named by `names`, one per evaluation): the references among
    `evaluations` of its problem and measurement; none beside a reference."""
    if is_reference(evaluation):
        return ()
    return tuple(
        Reference(name, other)
        for name, other in zip(names, evaluations)
        if other is not evaluation
        and (other.problem, other.measurement) == (evaluation.problem, evaluation.measurement)
        and is_reference(other)
    )


def _rows(
    evaluation: Evaluation,
    totals: Sequence[GroupTotal],
    references: Sequence[Reference],
    libraries_of: Callable[[GroupTotal], list[str]],
) -> list[GroupRow]:
    modules = {m.name: m for m in evaluation.modules}
    linked = {lib.library: lib for lib in evaluation.linked or ()}
    rows = []
    for total in totals:
        members = [modules[name] for name in total.members]
        libraries = [name for name in libraries_of(total) if name in linked and linked[name].ratio is not None]
        own = Side(total.total_ratio, total.geomean_ratio, linked_total(linked[name] for name in libraries).ratio)
        rows.append(GroupRow(total, own, tuple(ref.side(members, libraries) for ref in references)))
    return rows


def project_rows(evaluation: Evaluation, references: Sequence[Reference]) -> list[GroupRow]:
    """Per project (a library: its linked size is the project's), largest default total first."""
    return _rows(evaluation, projects(evaluation.modules), references, lambda total: [total.name])


def language_rows(evaluation: Evaluation, references: Sequence[Reference]) -> list[GroupRow]:
    """Per language (a library links with the language most of its modules are in); none without languages."""
    of_library = library_languages(evaluation.modules)
    return _rows(
        evaluation,
        languages(evaluation.modules),
        references,
        lambda total: sorted(library for library, language in of_library.items() if language == total.name),
    )
