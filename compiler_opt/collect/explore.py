"""Exploration: a module compiled under a policy's greedy decisions, and again with its least-certain decisions flipped.

`run_explore_task(task, policy)` runs in a pool worker and returns an
`Exploration`, every compile of it scored:

1. the policy's greedy trajectory (`kind` "greedy");
2. up to `flips` explorations of it: at each of the `flips` steps where the
   policy is least sure (the smallest gap between its two largest logits),
   the compile replays the base's decisions before that step, takes the
   policy's second choice there, and follows the policy greedily after
   (`kind` "flip"; the steps it flipped in `flips`);
3. when the best of those beats its base, it becomes the base and step 2
   repeats past its last flip, up to `depth` times (a greedy climb: each
   accepted flip's saving is its `gains` entry, the honest credit of that
   one decision, since its sibling differs from it there only);
4. optionally the trajectories of built-in policies (`references`, e.g.
   the inliner's hand rule), recorded with the features the policy sees.

Each compile is valued by a `ModuleScorer` (per-object size, or linked
size). The best compile keeps its trajectory (features and actions): the
lowest value, then the smallest object (`Candidate.rank`: a linked value ties
wherever the linker would have merged what the object saves, and the
smaller object is the better label there), then the earliest (so the greedy
one wins a tie, unless the task prefers its references). Every compile keeps
its actions, so any of them replays exactly (`replay_actions`). A task's
compiles are at most `1 + depth * flips + 2 * len(references)`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from compiler_opt.collect.actor import MakeDecide, act
from compiler_opt.collect.compile_job import CompileTask, run_compile_task
from compiler_opt.collect.replay import ReplayMismatch
from compiler_opt.collect.scoring import ModuleScorer, ObjectScorer
from compiler_opt.collect.trajectories import ModuleTrajectory
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.fast import Decision, FastPolicy
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

__all__ = ["Candidate", "ExploreTask", "Exploration", "least_certain_steps", "run_explore_task"]

GREEDY = "greedy"
FLIP = "flip"


@dataclass(frozen=True)
class ExploreTask:
    """One module to explore around a policy (picklable; the policy comes as `run_explore_task`'s second argument).

    `flips`: least-certain steps tried per climb; `depth`: how many times an
    improving flip becomes the new base; `references`: built-in policies of
    the problem whose trajectories are candidates too; `prefer_references`:
    a reference wins a tie with the policy's compiles (an untrained policy's
    decisions are noise where they happen to cost nothing).
    """

    module: ModuleSpec
    problem: str
    clang: str
    flips: int = 2
    depth: int = 1
    references: tuple[str, ...] = ()
    timeout: float = 600.0
    prefer_references: bool = False

    def __post_init__(self) -> None:
        if self.flips < 0 or self.depth < 0:
            raise MlgoError(f"exploration flips and depth must not be negative, got {self.flips} and {self.depth}")

    @property
    def compiles(self) -> int:
        """The most compiles the task may run (a reference may take two: read its decisions, then replay them)."""
        return 1 + self.depth * self.flips + 2 * len(self.references)


@dataclass
class Candidate:
    """One compile of an exploration: what it was, its decisions, its score and value (lower is better).

    `flips`: the steps where it took another action than the policy's greedy
    choice; `gains`: per flip, how much it saved over its base (the compile
    without that flip). `trajectory`: the recorded features and actions (kept
    for the best candidate only, without the policy's logits).
    """

    kind: str
    actions: np.ndarray
    score: Score
    value: float
    flips: tuple[int, ...] = ()
    gains: tuple[float, ...] = ()
    logits: np.ndarray | None = None
    trajectory: ModuleTrajectory | None = None

    @property
    def decisions(self) -> int:
        return len(self.actions)

    @property
    def rank(self) -> tuple[float, float]:
        """What orders candidates (lower is better): the scorer's value, then the object's own measurement."""
        return self.value, self.score.value


@dataclass
class Exploration:
    """All compiles of one module's exploration (the greedy one first), the best of them, and the time they took."""

    module: str
    candidates: list[Candidate]
    best: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def greedy(self) -> Candidate:
        return self.candidates[0]

    @property
    def best_candidate(self) -> Candidate:
        return self.candidates[self.best]


def least_certain_steps(logits: np.ndarray, *, after: int, count: int) -> list[int]:
    """The `count` steps past `after` where the gap between the two largest logits is smallest (earliest on ties).

    Steps whose decision has a single possible action are never chosen.
    """
    if count <= 0 or logits.shape[0] <= after + 1 or logits.shape[-1] < 2:
        return []
    ordered = np.sort(logits[after + 1 :].astype(np.float64), axis=-1)
    gaps = ordered[:, -1] - ordered[:, -2]
    finite = np.flatnonzero(np.isfinite(gaps))
    chosen = finite[np.argsort(gaps[finite], kind="stable")[:count]]
    return sorted(int(step) + after + 1 for step in chosen)


def _second_choice(logits: np.ndarray, taken: int) -> int:
    values = logits.astype(np.float64).copy()
    values[taken] = -math.inf
    return int(np.argmax(values))


def _forced_then_greedy(policy: FastPolicy, forced: Sequence[int]) -> MakeDecide:
    """Answer with `forced` in order, then with the policy's greedy choice; each step with the policy's logits."""

    def make(header: LogHeader) -> Callable[[Observation], Decision]:
        step = 0

        def decide(observation: Observation) -> Decision:
            nonlocal step
            logits = policy.observation_logits(observation)
            values = logits.astype(np.float64)
            action = int(forced[step]) if step < len(forced) else int(np.argmax(values))
            step += 1
            top = values.max()
            log_probability = float(values[action] - top - math.log(np.exp(values - top).sum()))
            return Decision(action, log_probability, logits)

        return decide

    return make


class _Explorer:
    """The compiles of one task, their times summed."""

    def __init__(self, task: ExploreTask, policy: FastPolicy, scorer: ModuleScorer) -> None:
        self.task, self.policy, self.scorer = task, policy, scorer
        self.toolchain = find_toolchain(task.clang)
        self.problem: Problem = get_problem(task.problem)
        self.command = task.module.command(self.toolchain.clang)
        self.seconds: dict[str, float] = {}

    def _add_seconds(self, seconds: dict[str, float]) -> None:
        for key, value in seconds.items():
            self.seconds[key] = self.seconds.get(key, 0.0) + value

    def compile(self, forced: Sequence[int], kind: str, flips: tuple[int, ...], gains: tuple[float, ...]) -> Candidate:
        name = self.task.module.name
        acted = act(
            self.toolchain,
            self.problem,
            self.command,
            _forced_then_greedy(self.policy, forced),
            name=name,
            policy_info=True,
            record=True,
            spec=self.policy.spec,
            timeout=self.task.timeout,
            keep_object=self.scorer.needs_object,
        )
        self._add_seconds(acted.seconds)
        if acted.decisions < len(forced):
            raise ReplayMismatch(
                name, f"forcing {len(forced)} decisions, the compiler asked for only {acted.decisions}"
            )
        trajectory = acted.trajectory
        assert trajectory is not None  # recorded
        score = acted.measured_score
        return Candidate(
            kind,
            np.asarray(trajectory.actions),
            score,
            self.scorer.value(name, score, acted.object),
            flips,
            gains,
            trajectory.logits,
            _without_policy_info(trajectory),
        )

    def reference(self, policy: str) -> Candidate:
        task = self.task
        result = run_compile_task(
            CompileTask(
                task.module,
                task.problem,
                task.clang,
                policy,
                explore=False,
                record=True,
                timeout=task.timeout,
                keep_object=self.scorer.needs_object,
            )
        )
        self._add_seconds(result.seconds)
        assert result.actions is not None  # a compile result carries its advice
        value = self.scorer.value(task.module.name, result.score, result.object)
        trajectory = result.trajectory
        if trajectory is not None and set(trajectory.features) != set(self.policy.spec.names):
            trajectory = None  # recorded with other features than the policy reads: its actions still replay
        return Candidate(policy, np.asarray(result.actions), result.score, value, trajectory=trajectory)

    def explore(self) -> Exploration:
        task = self.task
        base = self.compile((), GREEDY, (), ())
        candidates = [base]
        for _ in range(task.depth):
            assert base.logits is not None  # every policy compile records its logits
            steps = least_certain_steps(base.logits, after=base.flips[-1] if base.flips else -1, count=task.flips)
            tried = [
                self.compile(
                    [*base.actions[:step].tolist(), _second_choice(base.logits[step], int(base.actions[step]))],
                    FLIP,
                    (*base.flips, step),
                    base.gains,
                )
                for step in steps
            ]
            candidates.extend(tried)
            better = min(tried, key=lambda candidate: candidate.rank, default=None)
            if better is None or better.rank >= base.rank:
                break
            better.gains = (*base.gains, base.value - better.value)
            base = better
        candidates.extend(self.reference(name) for name in task.references)
        policy_compiles = len(candidates) - len(task.references)

        def rank(index: int) -> tuple[float, float, bool, int]:
            return *candidates[index].rank, task.prefer_references and index < policy_compiles, index

        best = min(range(len(candidates)), key=rank)
        for index, candidate in enumerate(candidates):
            candidate.logits = None
            if index != best:
                candidate.trajectory = None
        return Exploration(task.module.name, candidates, best, self.seconds)


def _without_policy_info(trajectory: ModuleTrajectory) -> ModuleTrajectory:
    return ModuleTrajectory(trajectory.module, trajectory.features, trajectory.actions, score=trajectory.score)


def run_explore_task(task: ExploreTask, policy: FastPolicy, scorer: ModuleScorer | None = None) -> Exploration:
    """Explore `task.module` around `policy`, each compile valued by `scorer` (default: per object); see the
    module docstring."""
    started = time.monotonic()
    exploration = _Explorer(task, policy, scorer or ObjectScorer(task.problem)).explore()
    exploration.seconds["task"] = time.monotonic() - started
    return exploration
