"""The figures a report derives from evaluations: extremes, per-project and per-language totals, linked totals,
figure totals, headroom.

Totals cover the modules that succeeded under both the default and the
policy, as the evaluation's own summary does; ratios are policy / default.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from compiler_opt.report.inputs import Evaluation, LinkedLibrary, ModuleResult, SearchResult

__all__ = [
    "FigureTotal",
    "GroupTotal",
    "Headroom",
    "LinkedTotal",
    "extremes",
    "figure_totals",
    "geomean",
    "headroom",
    "languages",
    "library_languages",
    "linked_total",
    "projects",
    "redundant_figures",
]


@dataclass(frozen=True)
class GroupTotal:
    """The modules of one group (a project, a language): counts, both sides' totals, the geomean of the ratios."""

    name: str
    members: tuple[str, ...]  # the modules' names, failed ones included
    modules: int
    failed: int
    default_total: float
    policy_total: float
    geomean_ratio: float | None

    @property
    def total_ratio(self) -> float | None:
        return self.policy_total / self.default_total if self.default_total > 0 else None


@dataclass(frozen=True)
class FigureTotal:
    """One figure (spills, copies, text, ...) summed over the modules that report it on both sides."""

    name: str
    modules: int
    default_total: float
    policy_total: float

    @property
    def ratio(self) -> float | None:
        return self.policy_total / self.default_total if self.default_total > 0 else None


@dataclass(frozen=True)
class Headroom:
    """What a search found possible on the modules it shares with an evaluation, and what the policy got."""

    modules: int
    search_default: float
    search_best: float
    eval_default: float
    eval_policy: float

    @property
    def found(self) -> float | None:
        """The search's gain as a fraction of the default (0.03: 3% smaller)."""
        return (self.search_default - self.search_best) / self.search_default if self.search_default > 0 else None

    @property
    def reached(self) -> float | None:
        """The policy's gain as a fraction of the default."""
        return (self.eval_default - self.eval_policy) / self.eval_default if self.eval_default > 0 else None

    @property
    def share(self) -> float | None:
        """The policy's gain over the search's gain, in bytes (1.0: all the headroom; negative: worse than default).

        The same definition as `compiler_opt.report.search.headroom_reached`; None when the search found no gain.
        """
        gain = self.search_default - self.search_best
        return (self.eval_default - self.eval_policy) / gain if gain > 0 else None


@dataclass(frozen=True)
class LinkedTotal:
    """Linked libraries' .text summed over those linked under both sides."""

    libraries: int
    default: float
    policy: float

    @property
    def ratio(self) -> float | None:
        return self.policy / self.default if self.default > 0 else None


def geomean(ratios: Iterable[float]) -> float | None:
    """The geometric mean of the positive `ratios` (None without any)."""
    logs = [math.log(r) for r in ratios if r > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def extremes(modules: Sequence[ModuleResult], count: int = 1) -> tuple[list[ModuleResult], list[ModuleResult]]:
    """(best, worst): the `count` modules with the lowest and the highest ratio (ties: larger change first)."""
    # a module has a ratio only when it is ok with both figures, so it has a delta too
    rated = [(ratio, delta, m) for m in modules if (ratio := m.ratio) is not None and (delta := m.delta) is not None]
    best = [m for _, _, m in sorted(rated, key=lambda r: (r[0], r[1], r[2].name))[:count]]
    worst = [m for _, _, m in sorted(rated, key=lambda r: (-r[0], -r[1], r[2].name))[:count]]
    return best, worst


def _ok_figures(module: ModuleResult) -> tuple[float, float]:
    """An ok module's (default, policy); the loader (inputs._module) gives every ok module both numbers."""
    assert module.default is not None and module.policy is not None, f"{module.name}: ok without both figures"
    return module.default, module.policy


def _groups(modules: Sequence[ModuleResult], key: Callable[[ModuleResult], str]) -> list[GroupTotal]:
    """Totals per group (`key` of each module), largest default total first."""
    groups: dict[str, list[ModuleResult]] = {}
    for module in modules:
        groups.setdefault(key(module), []).append(module)
    totals = []
    for name, members in groups.items():
        ok = [m for m in members if m.ok]
        totals.append(
            GroupTotal(
                name,
                tuple(m.name for m in members),
                len(members),
                len(members) - len(ok),
                sum(_ok_figures(m)[0] for m in ok),
                sum(_ok_figures(m)[1] for m in ok),
                geomean(m.ratio for m in ok if m.ratio is not None),
            )
        )
    return sorted(totals, key=lambda t: (-t.default_total, t.name))


def projects(modules: Sequence[ModuleResult]) -> list[GroupTotal]:
    """Totals per project (the first path component of module names: the library), largest default total first."""
    return _groups(modules, lambda m: m.project)


def languages(modules: Sequence[ModuleResult]) -> list[GroupTotal]:
    """Totals per language, largest first; none when the evaluation recorded no language (an older file)."""
    if all(m.language is None for m in modules):
        return []
    return _groups(modules, lambda m: m.language or "unknown")


def library_languages(modules: Sequence[ModuleResult]) -> dict[str, str]:
    """Each library's (project's) language: the one most of its modules are in (ties: by name)."""
    counts: dict[str, Counter[str]] = {}
    for module in modules:
        if module.language is not None:
            counts.setdefault(module.project, Counter())[module.language] += 1
    return {library: min(c, key=lambda language: (-c[language], language)) for library, c in counts.items()}


def linked_total(libraries: Iterable[LinkedLibrary]) -> LinkedTotal:
    """The libraries linked under both sides (those with a ratio), summed."""
    usable = [lib for lib in libraries if lib.ratio is not None]
    default = policy = 0.0
    for lib in usable:
        # evaluate.py writes a library's ratio only together with both its sizes
        assert lib.default is not None and lib.policy is not None, f"{lib.library}: a ratio without both sizes"
        default, policy = default + lib.default, policy + lib.policy
    return LinkedTotal(len(usable), default, policy)


def redundant_figures(evaluation: Evaluation) -> set[str]:
    """Figures equal to the module's own default/policy figure on every module that has them."""
    names = {name for m in evaluation.modules for name in m.figures}
    redundant = set()
    for name in names:
        pairs = [(m.figures[name], (m.default, m.policy)) for m in evaluation.modules if name in m.figures]
        if pairs and all(figure == own for figure, own in pairs):
            redundant.add(name)
    return redundant


def figure_totals(evaluation: Evaluation) -> list[FigureTotal]:
    """Each figure both sides report, summed over the ok modules, in file order (redundant ones left out)."""
    skip = redundant_figures(evaluation)
    sums: dict[str, list[float]] = {}
    for module in evaluation.modules:
        if not module.ok:
            continue
        for name, (default, policy) in module.figures.items():
            if name in skip or default is None or policy is None:
                continue
            total = sums.setdefault(name, [0, 0.0, 0.0])
            total[0] += 1
            total[1] += default
            total[2] += policy
    return [FigureTotal(name, int(n), d, p) for name, (n, d, p) in sums.items()]


def headroom(evaluation: Evaluation, search: SearchResult) -> Headroom:
    """The search's and the policy's gains over the modules both cover (ok in the evaluation)."""
    shared = [m for m in evaluation.modules if m.ok and m.name in search.modules]
    return Headroom(
        len(shared),
        sum(search.modules[m.name][0] for m in shared),
        sum(search.modules[m.name][1] for m in shared),
        sum(_ok_figures(m)[0] for m in shared),
        sum(_ok_figures(m)[1] for m in shared),
    )
