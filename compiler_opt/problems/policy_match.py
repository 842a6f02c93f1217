"""Which problem a saved policy answers: named by the user, or found from the advice it gives.

A policy folder records its feature spec, whose advice is named as the
compiler names it (`inlining_decision`, `index_to_evict`, `priority`): the
problem whose advice has that name is the policy's problem.
"""

from __future__ import annotations

from compiler_opt.errors import MlgoError
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.problems import get_problem, problem_names
from compiler_opt.problems.base import Problem


def policy_problem(spec: FeatureSpec, name: str | None = None) -> Problem:
    """The problem called `name` (refused unless the policy answers it), else the one whose advice is `spec`'s."""
    if name is not None:
        problem = get_problem(name)
        check_policy_problem(spec, problem)
        return problem
    matches = _problems_answered_by(spec)
    if len(matches) != 1:
        raise MlgoError(
            f"cannot tell which problem a policy answering {spec.advice.name!r} belongs to; "
            f"name it with --problem ({', '.join(problem_names())})"
        )
    return matches[0]


def check_policy_problem(spec: FeatureSpec, problem: Problem) -> None:
    """Refuse a policy (its feature spec) whose advice is another problem's, naming the problem it answers."""
    owners = [other.name for other in _problems_answered_by(spec)]
    if spec.advice.name == problem.advice or not owners:  # a foreign advice is left to the feature checks
        return
    raise MlgoError(
        f"this policy is for problem {owners[0]} (it answers {spec.advice.name!r}), not for "
        f"{problem.name} (which asks for {problem.advice!r}): give a policy trained for {problem.name}, "
        f"or use --problem {owners[0]}"
    )


def _problems_answered_by(spec: FeatureSpec) -> list[Problem]:
    """The problems whose advice has the name `spec`'s advice has (one, or none for a foreign policy)."""
    return [problem for problem in map(get_problem, problem_names()) if problem.advice == spec.advice.name]
