"""The actor: one module compiled once, its ML advisor answered by a decide callable or switched off.

Everything in the project that compiles a module compiles it through `act`:
compile jobs (training, evaluation, behavioral-cloning labels), baselines,
`mlgo trace`, corpus statistics and the drop-in compiler. The answer is

- `ADVISOR_OFF` (None): the compiler's own heuristic with the ML advisor off,
  a plain compile (`compiler_opt.llvm.compile.compile_plainly`);
- `make_decide(header)`, called once the compiler has sent its log header,
  giving the function that answers each `Observation`: a built-in policy
  (`builtin_decider`), a numpy `FastPolicy` (sampled or greedy), or replayed
  actions. With `policy_info` it returns (action, log-probability, logits)
  (a `Decision`), else the advice itself.

`command` is a corpus module's `CompileCommand` (compiled in a private temp
dir with the problem's measurement options, then measured) or a complete
argv run as is (a drop-in compiler's `-cc1` job, corpus statistics), whose
pipeline may never start the advisor (`-O0`): then nothing is asked. Options:
`record` keeps the trajectory (the problem's feature spec unless `spec`
names the policy's), `log_path` writes LLVM's training log
(`decision_log`), `keep_object` returns the object's bytes, `object_path`
puts the object there, `passthrough` shares this process's terminal with
the compiler. Host and compiler take turns, so by default both run on the
CPU the calling thread is on (`pin`; `compiler_opt.llvm.channel`); with
`claim_cpu` they run on a CPU no other claimant holds
(`compiler_opt.pool.cpu_claim`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler_opt.collect.decision_log import DecisionLog
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.compile import compile_answering, compile_plainly
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.features import FeatureSpec, build_feature_spec, policy_shape
from compiler_opt.problems.base import BuiltinPolicy, PolicyContext, Problem
from compiler_opt.problems.measurements import Score

if TYPE_CHECKING:  # recording imports them when it starts: a drop-in compile never records, and starts sooner
    from compiler_opt.collect.trajectories import ModuleTrajectory, TrajectoryRecorder, TrajectorySpec

__all__ = [
    "ADVISOR_OFF",
    "BASELINE_POLICY",
    "Acted",
    "MakeDecide",
    "act",
    "builtin_decider",
    "builtin_policy",
    "trajectory_spec",
]

MakeDecide = Callable[[LogHeader], Callable[[Observation], Any]]
ADVISOR_OFF: MakeDecide | None = None
BASELINE_POLICY = "baseline"
_PLAIN = BuiltinPolicy(BASELINE_POLICY, "the compiler's own heuristic with the ML advisor off", None)


@dataclass
class Acted:
    """What one compile gave.

    `header`: the compiler's log header (None when the advisor was off or
    never ran). `actions`: every advice given, in order. `seconds`:
    "compile" (wall time of the compile, policy included), "policy" (host
    time inside the decide function), "measure". `score`: None when the
    compile was not measured.
    """

    header: LogHeader | None
    decisions: int
    actions: list
    seconds: dict[str, float]
    score: Score | None = None
    trajectory: ModuleTrajectory | None = None
    trajectory_spec: TrajectorySpec | None = None
    object: bytes | None = None

    @property
    def measured_score(self) -> Score:
        """The score of a compile of a module's `CompileCommand` (always measured)."""
        if self.score is None:
            raise MlgoError("this compile ran a complete command line, which is not measured")
        return self.score


def builtin_policy(problem: Problem, name: str) -> BuiltinPolicy:
    """The built-in policy `name` of `problem`; `BASELINE_POLICY` is the advisor off unless the problem defines it."""
    return _PLAIN if name == BASELINE_POLICY and not problem.is_builtin(name) else problem.policy(name)


def builtin_decider(toolchain: Toolchain, builtin: BuiltinPolicy, seed: int = 0) -> MakeDecide | None:
    """How `builtin` answers a compile's decisions (`ADVISOR_OFF` for a policy that switches the advisor off)."""
    if builtin.make is None:
        return ADVISOR_OFF
    make, parameters = builtin.make, builtin.parameters
    return lambda header: make(PolicyContext(toolchain, header, seed, parameters))


def trajectory_spec(spec: FeatureSpec, *, policy_info: bool) -> TrajectorySpec:
    """The trajectory spec of a policy with feature spec `spec` (per-step shapes, as tf-agents uses them).

    `policy_info`: whether steps carry the policy's logits and log-probability
    (a `FastPolicy` gives them, built-in policies do not). A built-in
    policy's steps hold the advice it sent (e.g. a live range's weight as its
    priority), a trained policy's its action (`FeatureSpec.action`).
    """
    from compiler_opt.collect.trajectories import TrajectorySpec

    features = tuple(dataclasses.replace(f, shape=policy_shape(f)) for f in spec.features)
    answer = spec.action if policy_info else spec.advice
    action = dataclasses.replace(answer, shape=policy_shape(answer))
    return TrajectorySpec(
        features, action, logits=spec.num_actions if policy_info else None, log_probability=policy_info
    )


def act(
    toolchain: Toolchain,
    problem: Problem,
    command: CompileCommand | Sequence[str],
    make_decide: MakeDecide | None,
    *,
    name: str = "",
    include_default: bool = False,
    policy_info: bool = False,
    record: bool = False,
    spec: FeatureSpec | None = None,
    log_path: str | Path | None = None,
    object_path: str | Path | None = None,
    keep_object: bool = False,
    passthrough: bool = False,
    pin: bool = True,
    claim_cpu: bool = False,
    timeout: float = 600.0,
    read_timeout: float = 120.0,
) -> Acted:
    """Compile `command` once with `problem`'s advisor answered by `make_decide`; see the module docstring."""
    if make_decide is not None:
        toolchain.probe().require(problem.advisor.name, toolchain.clang)
    name = name or (command.bitcode if isinstance(command, CompileCommand) else "compile")
    with contextlib.ExitStack() as stack:
        cpu: int | None | bool = pin
        if claim_cpu:
            from compiler_opt.pool.cpu_claim import claimed_cpu  # the drop-in's start-up pays for it only here

            cpu = stack.enter_context(claimed_cpu())
        workdir = output = None
        if isinstance(command, CompileCommand):
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlgo-job-")))
            output = Path(object_path) if object_path is not None else workdir / "module.o"
            argv = command.argv(output, problem.measurement.compile_options(workdir, command.cc1))
        else:
            argv = list(command)
        started = time.monotonic()
        if make_decide is None:
            compile_plainly(argv, name, timeout)
            acted = Acted(None, 0, [], {"compile": 0.0, "policy": 0.0})
        else:
            answering = _Answering(problem, make_decide, policy_info, record, spec, log_path, stack)
            answered = compile_answering(
                argv,
                problem.advisor,
                answering.make,
                module=name,
                include_default=include_default,
                timeout=timeout,
                read_timeout=read_timeout,
                temp_parent=workdir,
                cpu=cpu,
                expect_header=workdir is not None and not problem.advisor.header_with_first_decision,
                passthrough=passthrough,
            )
            acted = Acted(
                answered.header,
                answered.decisions,
                answering.actions,
                {"compile": 0.0, "policy": answering.policy_seconds},
                trajectory_spec=answering.trajectory_spec,
            )
        acted.seconds["compile"] = time.monotonic() - started
        if workdir is not None and output is not None:
            before = time.monotonic()
            acted.score = problem.measurement.measure(toolchain, output, workdir)
            acted.seconds["measure"] = time.monotonic() - before
            acted.object = output.read_bytes() if keep_object else None
    if make_decide is not None and answering.recorder is not None:
        acted.trajectory = answering.recorder.finish(name, acted.score.value if acted.score else math.nan)
    return acted


class _Answering:
    """The decide function a compile gets: the policy's, timed, its advice kept, recorded and logged."""

    def __init__(
        self,
        problem: Problem,
        make_decide: MakeDecide,
        policy_info: bool,
        record: bool,
        spec: FeatureSpec | None,
        log_path: str | Path | None,
        stack: contextlib.ExitStack,
    ) -> None:
        self._problem = problem
        self._make_decide = make_decide
        self._policy_info = policy_info
        self._record = record
        self._spec = spec
        self._log_path = log_path
        self._stack = stack
        self.actions: list = []
        self.policy_seconds = 0.0
        self.recorder: TrajectoryRecorder | None = None
        self.trajectory_spec: TrajectorySpec | None = None

    def make(self, header: LogHeader) -> Callable[[Observation], Any]:
        decide = self._make_decide(header)
        if self._record:
            from compiler_opt.collect.trajectories import TrajectoryRecorder

            problem = self._problem
            features = self._spec or build_feature_spec(
                header, exclude=problem.excluded_features, num_actions=problem.num_actions
            )
            self.trajectory_spec = trajectory_spec(features, policy_info=self._policy_info)
            self.recorder = TrajectoryRecorder(header, self.trajectory_spec)
        log = None
        if self._log_path is not None:
            log = DecisionLog(self._stack.enter_context(open(self._log_path, "wb")), header)
        clock, keep, recorder, policy_info = time.perf_counter, self.actions.append, self.recorder, self._policy_info

        def answer(observation: Observation) -> Any:
            before = clock()
            step = decide(observation)
            self.policy_seconds += clock() - before
            advice = step[0] if policy_info else step
            keep(advice)
            if recorder is not None:
                if policy_info:
                    recorder.record(observation, *step)
                else:
                    recorder.record(observation, advice)
            if log is not None:
                log.write(observation, advice)
            return advice

        return answer
