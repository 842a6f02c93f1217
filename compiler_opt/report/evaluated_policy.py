"""The policy an evaluation runs: a built-in policy's name, a saved policy's fast form, or one of those per
language (`compiler_opt.policy.by_language`), checked before any job.

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
from compiler_opt.policy.by_language import LanguagePolicies, parse_language_policies
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.pretrained import PREFIX, is_pretrained, policy_folder
from compiler_opt.problems.base import Problem
from compiler_opt.problems.policy_match import check_policy_problem

__all__ = ["EvaluatedPolicy", "check_policy_fits", "fast_members", "load_policy", "policy_digest"]

SinglePolicy = str | FastPolicy
EvaluatedPolicy = SinglePolicy | LanguagePolicies[SinglePolicy]


def load_policy(problem: Problem, policy: str, *, pretrained_root: str | os.PathLike | None = None) -> EvaluatedPolicy:
    """A built-in policy name of `problem` (checked, parameters included), the fast form of the saved policy
    folder `policy` or of the packaged policy `pretrained:NAME` (looked up in `pretrained_root`, by default the
    package's own), or one of those per language (`LANGUAGE=POLICY,...`)."""
    per_language = None if Path(policy).is_dir() else parse_language_policies(policy)
    if per_language is not None:
        return per_language.map(lambda _, member: _load_single(problem, member, pretrained_root))
    return _load_single(problem, policy, pretrained_root)


def _load_single(problem: Problem, policy: str, pretrained_root: str | os.PathLike | None) -> SinglePolicy:
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


def fast_members(policy: EvaluatedPolicy) -> list[FastPolicy]:
    """The saved policies among `policy` (itself, or its members per language)."""
    members = [member for _, member in policy] if isinstance(policy, LanguagePolicies) else [policy]
    return [member for member in members if isinstance(member, FastPolicy)]


def policy_digest(policy: EvaluatedPolicy) -> str:
    """What identifies `policy` in recorded results: a built-in's name, a saved policy's digest, per language."""
    if isinstance(policy, LanguagePolicies):
        return ",".join(f"{language}={policy_digest(member)}" for language, member in policy)
    return policy if isinstance(policy, str) else policy.digest()


def check_policy_fits(
    policy: EvaluatedPolicy, toolchain: Toolchain, problem: Problem, modules: Sequence[ModuleSpec]
) -> None:
    """Refuse, before any job runs, a saved policy whose features this compiler does not send (asked on
    `modules`), and a policy per language without a member for some module's language."""
    if isinstance(policy, LanguagePolicies):
        for language in sorted({spec.language for spec in modules}):
            policy.for_language(language)
    saved = fast_members(policy)
    if not saved:
        return
    theirs = problem_feature_spec(toolchain, problem, modules)
    for fast in saved:
        fast.spec.check_compatible(
            LogHeader(theirs.features, advice=theirs.advice), source=f"{toolchain.clang} ({toolchain.version_text})"
        )
