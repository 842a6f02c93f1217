"""Learned policies judged against hand-written ones: the verdict a report states first.

An evaluation of one of its problem's built-in policies (the inliner's hand
`rule`, say) is a reference, except the built-in that replays the compiler's
own decisions (the default every ratio is already against). Each evaluation
of any other policy (a saved, learned one) is compared with each reference of
the same problem and measurement on the modules both compiled successfully:
total policy / total default, side by side. A learned policy that is not
smaller in total than a reference is said not to beat it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compiler_opt.errors import MlgoError
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.report.inputs import Evaluation

__all__ = ["Verdict", "is_reference", "verdicts"]


@dataclass(frozen=True)
class Verdict:
    """A learned policy against a reference on their shared modules (ratios are total / the default's total)."""

    policy: str
    reference: str
    modules: int
    policy_ratio: float
    reference_ratio: float

    @property
    def beats(self) -> bool:
        return self.policy_ratio < self.reference_ratio

    def line(self) -> str:
        outcome = "beats" if self.beats else "does NOT beat"
        return (
            f"{self.policy} {outcome} the built-in policy {self.reference} on the {self.modules} modules both "
            f"evaluated: total {self.policy_ratio:.4f} vs {self.reference_ratio:.4f} of the default"
        )


def is_reference(evaluation: Evaluation) -> bool:
    """Whether `evaluation` is of a built-in policy other than the compiler's own decisions replayed."""
    problem = _problem(evaluation)
    if problem is None or not problem.is_builtin(evaluation.policy):
        return False
    replay = problem.default_replay()
    try:
        name = problem.policy(evaluation.policy).name
    except MlgoError:  # parameters this installation does not know: a built-in all the same
        return True
    return replay is None or name != replay.name


def verdicts(evaluations: Sequence[Evaluation]) -> list[Verdict]:
    """Each learned evaluation against each reference of its problem and measurement (none without both)."""
    references = [e for e in evaluations if is_reference(e)]
    found = []
    for learned in evaluations:
        problem = _problem(learned)
        if problem is not None and problem.is_builtin(learned.policy):
            continue
        for reference in references:
            if (reference.problem, reference.measurement) != (learned.problem, learned.measurement):
                continue
            verdict = _compare(learned, reference)
            if verdict is not None:
                found.append(verdict)
    return found


def _problem(evaluation: Evaluation) -> Problem | None:
    """The evaluation's problem, None for one this installation does not know."""
    try:
        return get_problem(evaluation.problem)
    except MlgoError:
        return None


def _compare(learned: Evaluation, reference: Evaluation) -> Verdict | None:
    theirs = {m.name: m for m in reference.modules if m.ok and m.default and m.policy is not None}
    shared = [(m, theirs[m.name]) for m in learned.modules if m.ok and m.name in theirs and m.policy is not None]
    if not shared:
        return None
    mine_default = sum(m.default or 0.0 for m, _ in shared)
    ref_default = sum(r.default or 0.0 for _, r in shared)
    if mine_default <= 0 or ref_default <= 0:
        return None
    return Verdict(
        learned.policy,
        reference.policy,
        len(shared),
        sum(m.policy or 0.0 for m, _ in shared) / mine_default,
        sum(r.policy or 0.0 for _, r in shared) / ref_default,
    )
