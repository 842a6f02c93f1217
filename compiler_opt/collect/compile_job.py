"""The compile job: one module under one policy -> its trajectory and score, or a typed failure.

The actor of the training loop (Acme's word). `run_compile_task(task)` is a
pure function of a picklable `CompileTask` and returns a picklable
`CompileResult`, so the pool that runs it may be local processes or a Ray
cluster. It compiles the module with the actor (`compiler_opt.collect.actor`),
the problem's advisor answered by

- a built-in policy of the problem (`"default"`, `"always"`, ...), or
  `BASELINE_POLICY`, the compiler's own heuristic with the advisor off;
- a `FastPolicy` (the numpy actor): sampled when `explore` (one seeded
  `numpy.random.Generator` per task, seeded with the task's seed and the
  module's name, so equal seeds on different modules draw different
  streams), greedy otherwise. A large policy goes to the pool once
  (`pool.share`) and reaches the job as `run_compile_task`'s second argument
  (`compile_jobs` does the wiring); the task's own `policy` may then be None.

With `record`, every decision is kept by a `TrajectoryRecorder`: the features
the policy sees (the problem's feature spec: the header minus the features
the problem excludes, shaped as `policy_shape`), the action, and for a
`FastPolicy` the log-probability of the action and the logits. The score is
the problem's measurement of the object. All work files live in a private
temp dir removed afterwards; failures are the channel's typed errors
(`CompilerCrash`, `CompilerTimeout`, `ChannelProtocolError`, all
`CompilerFailure`s naming the module) or `ReplayMismatch`.

Default labels (behavioral cloning) need two compiles under LLVM 19, whose
include-default overwrites a feature: `run_compile_task`, asked to record a
built-in policy that replays the default, reads the decisions and replays
them (`compiler_opt.collect.replay`), so no recorded trajectory ever carries
the overwritten slot.
"""

from __future__ import annotations

import math
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_opt.collect.actor import BASELINE_POLICY, Acted, MakeDecide, act, builtin_decider, builtin_policy
from compiler_opt.collect.replay import ReplayMismatch, default_overwrites_feature, label_by_replay, replayer
from compiler_opt.collect.trajectories import ModuleTrajectory, TrajectorySpec
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.compile import compile_answering
from compiler_opt.llvm.log_format import Observation
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.policy.by_language import LanguagePolicies
from compiler_opt.policy.fast import Decision, FastPolicy
from compiler_opt.policy.features import FeatureSpec, build_feature_spec
from compiler_opt.pool.base import Job, SharedRef
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

__all__ = [
    "BASELINE_POLICY",
    "CompileResult",
    "CompileTask",
    "compile_jobs",
    "default_label_trajectory",
    "problem_feature_spec",
    "replay_actions",
    "run_compile_task",
]

TaskPolicy = str | FastPolicy | LanguagePolicies[str | FastPolicy]
DEFAULT_TIMEOUT = 600.0
# The pool's limit on a job is a backstop behind the compile's own limit, which gives the typed failure.
POOL_TIMEOUT_MARGIN = 60.0


@dataclass(frozen=True)
class CompileTask:
    """One module to compile under one policy (picklable).

    `policy`: a built-in policy name of the problem, `BASELINE_POLICY`, a
    `FastPolicy`, one of those per language (`LanguagePolicies`: the member
    for the module's language answers), or None when the policy comes as
    `run_compile_task`'s second argument. `timeout`: the compile's wall limit in seconds (default 600).
    `keep_object`: return the object file's bytes (for linking).
    """

    module: ModuleSpec
    problem: str
    clang: str
    policy: TaskPolicy | None
    explore: bool = True
    seed: int = 0
    record: bool = True
    timeout: float | None = None
    keep_object: bool = False


@dataclass
class CompileResult:
    """What one compile gave: the score, the trajectory (when recorded), and timings.

    `seconds`: "compile" (wall time of the compiles, policy included), "policy"
    (host time inside the policy), "measure" (measuring the object).
    `actions`: every advice given, in order (also when not recording).
    `trajectory_spec`: the spec `trajectory` follows (write it with a
    `TrajectoryWriter` of that spec). `object`: the object's bytes when the
    task asked to keep it.
    """

    module: str
    score: Score
    trajectory: ModuleTrajectory | None
    decisions: int
    seconds: dict[str, float]
    actions: np.ndarray | None = None
    trajectory_spec: TrajectorySpec | None = None
    object: bytes | None = None


# ---- small public helpers ------------------------------------------------------------------


def problem_feature_spec(
    toolchain: Toolchain,
    problem: Problem | str,
    modules: ModuleSpec | CompileCommand | Sequence[ModuleSpec | CompileCommand],
    *,
    timeout: float = 120.0,
    attempts: int = 20,
) -> FeatureSpec:
    """The features a policy of `problem` reads under this compiler: its header minus the excluded features.

    Starts a compile of a module with the advisor on (no default decision
    included), reads the header and stops the compiler. The compiler sends
    the header with its first decision, so a module that makes none (a
    register allocator with nothing to evict) exits without one: then the
    next of `modules` is tried, up to `attempts` of them.
    """
    problem = get_problem(problem) if isinstance(problem, str) else problem
    toolchain.probe().require(problem.advisor.name, toolchain.clang)
    candidates = [modules] if isinstance(modules, (ModuleSpec, CompileCommand)) else list(modules)[:attempts]
    for module in candidates:
        command = module if isinstance(module, CompileCommand) else module.command(toolchain.clang)
        name = module.name if isinstance(module, ModuleSpec) else command.bitcode
        with tempfile.TemporaryDirectory(prefix="mlgo-spec-") as tmp:
            workdir = Path(tmp)
            argv = command.argv(workdir / "module.o", problem.measurement.compile_options(workdir, command.cc1))
            header = compile_answering(
                argv,
                problem.advisor,
                None,
                module=name,
                timeout=timeout,
                temp_parent=tmp,
                expect_header=not problem.advisor.header_with_first_decision,
            ).header
        if header is not None:
            return build_feature_spec(header, exclude=problem.excluded_features, num_actions=problem.num_actions)
    raise MlgoError(
        f"none of the {len(candidates)} modules tried made a {problem.advisor.name} decision, so the "
        "compiler never sent its features; use a corpus with more code"
    )


def compile_jobs(tasks: Iterable[CompileTask], policy_ref: SharedRef | TaskPolicy | None = None) -> list[Job]:
    """One pool `Job` per task, keyed by module name; `policy_ref` (from `pool.share`) reaches every job."""
    jobs = []
    for task in tasks:
        args = (task,) if policy_ref is None else (task, policy_ref)
        limit = (task.timeout or DEFAULT_TIMEOUT) * _compiles_per_task(task) + POOL_TIMEOUT_MARGIN
        jobs.append(Job(task.module.name, run_compile_task, args, timeout=limit, files=task.module.files))
    return jobs


def _compiles_per_task(task: CompileTask) -> int:
    policy = task.policy
    if isinstance(policy, LanguagePolicies):
        policy = policy.for_language(task.module.language)
    return 2 if task.record and isinstance(policy, str) else 1


# ---- the job -------------------------------------------------------------------------------


def run_compile_task(task: CompileTask, policy: TaskPolicy | None = None) -> CompileResult:
    """Compile `task.module` under `policy` (else `task.policy`); see the module docstring."""
    policy = task.policy if policy is None else policy
    if policy is None:
        raise MlgoError(f"{task.module.name}: the compile task names no policy")
    if isinstance(policy, LanguagePolicies):
        policy = policy.for_language(task.module.language)
    toolchain = find_toolchain(task.clang)
    problem = get_problem(task.problem)
    command = task.module.command(toolchain.clang)
    timeout = task.timeout or DEFAULT_TIMEOUT
    name = task.module.name
    make: MakeDecide | None
    if isinstance(policy, FastPolicy):
        make, policy_info, spec, include_default = _fast_decider(task, policy), True, policy.spec, False
    elif isinstance(policy, str):
        builtin = builtin_policy(problem, policy)
        if (
            task.record
            and builtin.include_default
            and builtin.make is not None
            and default_overwrites_feature(toolchain, problem)
        ):
            return _result(
                name,
                label_by_replay(toolchain, problem, builtin, command, name, timeout, task.keep_object, task.seed),
            )
        make, policy_info, spec = builtin_decider(toolchain, builtin, task.seed), False, None
        include_default = builtin.include_default
    else:
        raise MlgoError(f"{name}: a policy is a built-in name or a FastPolicy, not {type(policy).__name__}")
    acted = act(
        toolchain,
        problem,
        command,
        make,
        name=name,
        include_default=include_default,
        policy_info=policy_info,
        record=task.record and make is not None,
        spec=spec,
        timeout=timeout,
        keep_object=task.keep_object,
    )
    return _result(name, acted)


def default_label_trajectory(
    module: ModuleSpec,
    problem: Problem | str,
    clang: str,
    *,
    teacher: str | None = None,
    timeout: float | None = None,
    keep_object: bool = False,
) -> CompileResult:
    """Behavioral-cloning data: the real features the policy will see, labeled with the default's decisions
    (or with those of `teacher`, another built-in policy of the problem, such as the inliner's hand rule).

    One compile where the default decision arrives in a feature the policy
    excludes, two (read, then replay) where it overwrites a policy feature
    (LLVM 19); see `compiler_opt.collect.replay`. Raises `MlgoError` for a problem
    whose compiler cannot send its default decisions, `ReplayMismatch` when
    the replay does not reproduce the default compile.
    """
    problem = get_problem(problem) if isinstance(problem, str) else problem
    builtin = problem.default_replay()
    if builtin is None:
        raise MlgoError(
            f"problem {problem.name} cannot replay the compiler's default decisions through the channel, "
            "so there are no default labels to clone"
        )
    task = CompileTask(
        module,
        problem.name,
        clang,
        teacher or builtin.name,
        explore=False,
        record=True,
        timeout=timeout,
        keep_object=keep_object,
    )
    return run_compile_task(task)


def replay_actions(
    module: ModuleSpec,
    problem: Problem | str,
    clang: str,
    actions: Sequence,
    *,
    default_tail: bool = False,
    record: bool = False,
    timeout: float | None = None,
    keep_object: bool = False,
) -> CompileResult:
    """Compile `module` answering with `actions` in order.

    With `default_tail`, decisions past the end of `actions` follow the
    compiler's own heuristic (the compile includes the default decision; the
    problem must be able to replay it); without it, a compile asking for
    more or fewer decisions than `actions` raises `ReplayMismatch`.
    """
    problem = get_problem(problem) if isinstance(problem, str) else problem
    toolchain = find_toolchain(clang)
    default = problem.default_replay() if default_tail else None
    if default_tail and default is None:
        raise MlgoError(f"problem {problem.name} cannot replay the compiler's default decisions")
    if default_tail and record and default_overwrites_feature(toolchain, problem):
        raise MlgoError(
            f"with this compiler the default decision overwrites a feature of problem {problem.name}, "
            "so a compile with a default tail cannot record honest features; use its actions"
        )
    make = replayer(toolchain, module.name, list(actions), default)
    acted = act(
        toolchain,
        problem,
        module.command(toolchain.clang),
        make,
        name=module.name,
        include_default=default_tail,
        record=record,
        timeout=timeout or DEFAULT_TIMEOUT,
        keep_object=keep_object,
    )
    if not default_tail and acted.decisions != len(actions):
        raise ReplayMismatch(
            module.name, f"replaying {len(actions)} decisions, the compiler asked for only {acted.decisions}"
        )
    return _result(module.name, acted)


# ---- how the policies answer ---------------------------------------------------------------


def _greedy(policy: FastPolicy, observation: Observation) -> Decision:
    logits = policy.observation_logits(observation)
    values = logits.astype(np.float64)
    action = int(np.argmax(values))
    top = values[action]
    return Decision(action, float(-math.log(np.exp(values - top).sum())), logits)


def _fast_decider(task: CompileTask, policy: FastPolicy) -> MakeDecide:
    """Sampled with one generator per task (seeded with the task's seed and the module's name), or greedy."""
    if task.explore:
        rng = np.random.default_rng([task.seed, zlib.crc32(task.module.name.encode())])
        return lambda header: lambda observation: policy.sample(observation, rng)
    return lambda header: lambda observation: _greedy(policy, observation)


def _result(name: str, acted: Acted) -> CompileResult:
    advice = acted.header.advice if acted.header is not None else None
    dtype = advice.dtype if advice is not None else np.int64
    return CompileResult(
        name,
        acted.measured_score,
        acted.trajectory,
        acted.decisions,
        acted.seconds,
        np.asarray(acted.actions, dtype),
        acted.trajectory_spec,
        acted.object,
    )
