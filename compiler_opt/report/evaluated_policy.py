"""The policy an evaluation runs: a built-in policy's name or a saved policy's fast form, checked before any job.

A saved policy must be for the evaluated problem, and its features must be
those this compiler sends; both are refused up front rather than in every job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.pretrained import PREFIX, is_pretrained, policy_folder
from compiler_opt.problems.base import Problem
from compiler_opt.problems.policy_match import check_policy_problem

__all__ = ["check_policy_fits", "load_policy"]


def load_policy(problem: Problem, policy: str, *, pretrained_root: str | os.PathLike | None = None) -> str | FastPolicy:
    """A built-in policy name of `problem` (checked, parameters included), or the fast form of the saved policy
    folder `policy` or of the packaged policy `pretrained:NAME` (looked up in `pretrained_root`, by default the
    package's own)."""
    if problem.is_builtin(policy):
        return problem.policy(policy).name
    if is_pretrained(policy) or Path(policy).is_dir():
        fast = FastPolicy.load(policy_folder(policy, pretrained_root))
        check_policy_problem(fast.spec, problem)
        return fast
    raise MlgoError(
        f"--policy {policy!r} is neither a built-in policy of {problem.name} "
        f"({', '.join(problem.policies)}), a pretrained policy ({PREFIX}NAME) nor a saved policy folder"
    )


def check_policy_fits(
    policy: FastPolicy, toolchain: Toolchain, problem: Problem, modules: Sequence[ModuleSpec]
) -> None:
    """Refuse, before any job runs, a policy whose features this compiler does not send (asked on `modules`)."""
    theirs = problem_feature_spec(toolchain, problem, modules)
    policy.spec.check_compatible(
        LogHeader(theirs.features, advice=theirs.advice), source=f"{toolchain.clang} ({toolchain.version_text})"
    )
