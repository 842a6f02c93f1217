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
    """The problem called `name`, else the one whose advice is `spec`'s."""
    if name is not None:
        return get_problem(name)
    matches = [problem for problem in map(get_problem, problem_names())
               if problem.advice == spec.advice.name]
    if len(matches) != 1:
        raise MlgoError(f"cannot tell which problem a policy answering {spec.advice.name!r} belongs to; "
                        f"name it with --problem ({', '.join(problem_names())})")
    return matches[0]
