"""A drop-in compiler that compiles with a trained policy on a stock clang: `mlgo cc`, `mlgo-clang`.

`compile_with_policy(args, policy, ...)` behaves like `clang ARGS`: it asks
the driver which jobs the command runs (`compiler_opt.llvm.driver`), runs
each `-cc1` compile with the problem's advisor in interactive mode and
answers every decision with the policy's numpy fast form, greedily (the
same decisions `mlgo eval` and the export check take), and runs assembler
and linker jobs as they are. The compiler shares this process's terminal,
so diagnostics, `-E` output and exit statuses are clang's own; a command
that runs no job (`--version`) or that the driver rejects goes to clang
unchanged. A compile whose pipeline never starts the advisor (`-O0`) simply
asks nothing. No TensorFlow is imported on this path.

Start-up matters, since a build starts one drop-in per file: loading the
policy (numpy's import, the weights) runs in a background thread while the
driver is asked for its jobs, and numpy is not imported before that.

Host and compiler take turns per decision, so each compile pins itself and
clang to one CPU (see `compiler_opt.llvm.channel`); concurrent compiles of a
parallel build (`make -j`) each claim a different CPU through a lock file
per CPU, and run unpinned when every CPU is taken.

Not covered: link-time optimization (the linker's LTO inliner does not ask
the host), and compiles that read their source from stdin are answered like
any other but cannot be repeated by `mlgo eval`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.driver import COMPILE, DriverJob, plan_jobs
from compiler_opt.llvm.run import run_attached
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain

if TYPE_CHECKING:
    from compiler_opt.policy.by_language import LanguagePolicies
    from compiler_opt.policy.fast import FastPolicy
    from compiler_opt.problems.base import Problem

    DropinPolicy = FastPolicy | LanguagePolicies[str | FastPolicy]

DEFAULT_TIMEOUT = 7 * 24 * 3600.0  # a drop-in compiler has no business killing a slow compile


def _main_file(job: DriverJob) -> str:
    args = job.argv
    for index, arg in enumerate(args[:-1]):
        if arg == "-main-file-name":
            return args[index + 1]
    return job.output or "compile"


def run_compile_job(
    toolchain: Toolchain, job: DriverJob, policy: DropinPolicy, problem: Problem, timeout: float = DEFAULT_TIMEOUT
) -> int:
    """One `-cc1` job answered by `policy` (greedy; per language, the member for the job's) on a claimed CPU; the
    compiler's exit status. A built-in member answers as it does in `mlgo eval`; one that switches the advisor
    off runs the job as it is."""
    from compiler_opt.collect.actor import act, builtin_decider, builtin_policy  # pylint: disable=import-outside-toplevel
    from compiler_opt.llvm.failures import CompilerCrash  # pylint: disable=import-outside-toplevel
    from compiler_opt.llvm.source_language import source_language  # pylint: disable=import-outside-toplevel
    from compiler_opt.policy.by_language import LanguagePolicies  # pylint: disable=import-outside-toplevel

    member = policy.for_language(source_language(job.argv)) if isinstance(policy, LanguagePolicies) else policy
    if isinstance(member, str):
        builtin = builtin_policy(problem, member)
        make = builtin_decider(toolchain, builtin)
        if make is None:
            return run_attached(job.argv)
        include_default = builtin.include_default
    else:
        greedy = member.greedy
        make, include_default = (lambda header: greedy), False
    try:
        act(
            toolchain,
            problem,
            job.argv,
            make,
            name=_main_file(job),
            include_default=include_default,
            timeout=timeout,
            read_timeout=timeout,
            passthrough=True,
            claim_cpu=True,
        )
    except CompilerCrash as crash:
        if crash.returncode is not None and crash.returncode > 0:
            return 1  # clang has printed its diagnostics; its driver exits with 1 too
        raise
    return 0


def compile_with_policy(
    args: Sequence[str],
    policy_dir: str | os.PathLike | None,
    *,
    problem: str | None = None,
    clang: str | None = None,
    driver_mode: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    pretrained_root: str | os.PathLike | None = None,
) -> int:
    """Run `clang ARGS` with every compile's decisions made by the policy in `policy_dir`; the exit status.

    `policy_dir` may be `pretrained:NAME`, a policy packaged in
    `pretrained_root` (default: the package's own). `clang` defaults as
    `find_toolchain`'s does; `problem` names the policy's problem when its
    advice does not tell.
    """
    with ThreadPoolExecutor(max_workers=1) as background:
        loading = background.submit(load_dropin_policy, policy_dir, problem, pretrained_root)
        toolchain = find_toolchain(clang)
        compiler = str(toolchain.clang)
        with tempfile.TemporaryDirectory(prefix="mlgo-cc-") as private:
            jobs = plan_jobs(compiler, args, Path(private), driver_mode=driver_mode)
            policy, the_problem = loading.result()
            if jobs is None:
                driver = [compiler, *([f"--driver-mode={driver_mode}"] if driver_mode else [])]
                return run_attached([*driver, *args])
            return _run_jobs(toolchain, jobs, policy, the_problem, timeout)


def _run_jobs(
    toolchain: Toolchain, jobs: list[DriverJob], policy: DropinPolicy, problem: Problem, timeout: float
) -> int:
    for job in jobs:
        if job.kind == COMPILE:
            status = run_compile_job(toolchain, job, policy, problem, timeout)
        else:
            status = run_attached(job.argv)
            if status != 0:
                print(
                    f"mlgo-clang: error: {os.path.basename(job.argv[0])} failed with exit code {status}",
                    file=sys.stderr,
                )
        if status != 0:
            return 1
    return 0


def load_dropin_policy(
    policy_dir: str | os.PathLike | None, problem_name: str | None, pretrained_root: str | os.PathLike | None = None
) -> tuple[DropinPolicy, Problem]:
    """The fast form of a saved (or `pretrained:NAME`) policy, or of one per language (`LANGUAGE=POLICY,...`,
    whose members may also be built-in policies), and its problem, with a message saying what to set when
    unnamed or unclear."""
    from compiler_opt.policy.by_language import parse_language_policies  # pylint: disable=import-outside-toplevel
    from compiler_opt.problems import get_problem  # pylint: disable=import-outside-toplevel
    from compiler_opt.problems.policy_match import policy_problem  # pylint: disable=import-outside-toplevel

    if not policy_dir:
        raise MlgoError(
            "no policy to compile with: set MLGO_POLICY to a saved policy folder (e.g. RUN_DIR/policy), "
            "pretrained:NAME or LANGUAGE=POLICY,..., or give `mlgo cc --policy DIR`"
        )
    per_language = None if Path(policy_dir).is_dir() else parse_language_policies(str(policy_dir))
    if per_language is None:
        policy = _load_saved(policy_dir, pretrained_root)
        return policy, policy_problem(policy.spec, problem_name)
    members = per_language.map(
        lambda _, member: member if _is_builtin_name(member) else _load_saved(member, pretrained_root)
    )
    saved = [member for _, member in members if not isinstance(member, str)]
    if saved:
        problem = policy_problem(saved[0].spec, problem_name)
        for other in saved[1:]:
            policy_problem(other.spec, problem.name)
    elif problem_name is None:
        raise MlgoError(
            f"the policy {per_language.text!r} names only built-in policies: name their problem with MLGO_PROBLEM "
            "or --problem"
        )
    else:
        problem = get_problem(problem_name)
    for _, member in members:
        if isinstance(member, str):
            problem.policy(member)  # refuses an unknown name, listing the problem's
    return members, problem


def _is_builtin_name(member: str) -> bool:
    """A member that is neither a folder nor `pretrained:NAME` names a built-in policy."""
    from compiler_opt.policy.pretrained import is_pretrained  # pylint: disable=import-outside-toplevel

    return not is_pretrained(member) and not Path(member).is_dir() and "/" not in member


def _load_saved(policy_dir: str | os.PathLike, pretrained_root: str | os.PathLike | None) -> FastPolicy:
    from compiler_opt.policy.pretrained import policy_folder  # pylint: disable=import-outside-toplevel
    from compiler_opt.policy.saved import load_fast_policy  # pylint: disable=import-outside-toplevel

    folder = policy_folder(policy_dir, pretrained_root)
    if not folder.is_dir():
        raise MlgoError(f"the policy folder {folder} does not exist")
    return load_fast_policy(folder)
