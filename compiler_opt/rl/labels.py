"""Behavioral cloning's data: the compiler's own decisions as labels, collected once, split by module name.

`collect_labels` compiles modules once each with the default heuristic's
decisions as labels (`default_label_trajectory`; or a `teacher`'s, another
built-in policy of the problem, such as the inliner's hand rule) and writes each module's
trajectory to the training or the hold-out folder (`holdout_side`, a fixed
hash of the name, independent of the corpus split).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from compiler_opt.collect.compile_job import CompileResult, default_label_trajectory
from compiler_opt.collect.rollouts import CollectFigures, describe
from compiler_opt.collect.trajectory_files import TrajectoryWriter
from compiler_opt.collect.vocab_traces import ObservationSample
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.corpus.splitting import in_fraction
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems.base import Problem


def holdout_side(name: str, fraction: float) -> bool:
    """Whether module `name` is held out of BC training (a fixed hash of the name, independent of the corpus split)."""
    return in_fraction(name, fraction, salt="bc-holdout\0")


def _summary(figures: CollectFigures, fit: tuple[int, int], holdout: tuple[int, int], teacher: str) -> dict:
    """The labels' figures as the run's state keeps them; `fit` and `holdout` are (modules, steps) per side."""
    return {
        "teacher": teacher,
        "modules": figures.modules,
        "modules_ok": figures.modules_ok,
        "modules_failed": figures.modules_failed,
        "modules_without_decisions": figures.modules_without_decisions,
        "fit_steps": fit[1],
        "holdout_steps": holdout[1],
        "fit_modules": fit[0],
        "holdout_modules": holdout[0],
        "seconds": figures.seconds_collect,
        "seconds_compile": figures.seconds_compile,
        "seconds_policy": figures.seconds_policy,
        "failures": dict(figures.failures),
    }


def collect_labels(
    pool: WorkerPool,
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    fit_folder: Path,
    holdout_folder: Path,
    *,
    holdout_fraction: float,
    timeout: float,
    sample: ObservationSample | None = None,
    teacher: str | None = None,
) -> dict:
    """Default-label trajectories of `modules`, written to `fit_folder` or `holdout_folder` (by name); their
    `labels_summary`. `teacher`: the full name of the built-in policy whose decisions label them (None: the
    default's). Every trajectory is also offered to `sample` (for a vocabulary) when given."""
    figures = CollectFigures(modules=len(modules))
    labelled_by = teacher or "default"
    sides = {False: [0, 0], True: [0, 0]}  # held out -> [modules, steps]
    started = time.monotonic()
    jobs = [
        Job(
            m.name,
            default_label_trajectory,
            (m, problem.name, str(toolchain.clang)),
            {"timeout": timeout, "teacher": teacher},
            timeout=2 * timeout + 60.0,
            files=m.files,
        )
        for m in modules
    ]
    writers: dict[bool, TrajectoryWriter] = {}
    try:
        for result in pool.run(jobs, desc=f"{labelled_by} labels"):
            if not result.ok:
                figures.modules_failed += 1
                figures.failures[result.key] = describe(result.error)
                continue
            labeled: CompileResult = result.value
            figures.note_seconds(labeled)
            trajectory = labeled.trajectory
            if trajectory is None or not len(trajectory):
                figures.modules_without_decisions += 1
                continue
            held = holdout_side(result.key, holdout_fraction)
            if held not in writers:
                spec = labeled.trajectory_spec
                assert spec is not None  # a labeled compile records its trajectory
                writers[held] = TrajectoryWriter(holdout_folder if held else fit_folder, spec, prefix="labels")
            writers[held].write(trajectory.with_reward(0.0))
            if sample is not None:
                sample.add(trajectory)
            figures.modules_ok += 1
            sides[held][0] += 1
            sides[held][1] += len(trajectory)
    finally:
        for writer in writers.values():
            writer.close()
    figures.seconds_collect = time.monotonic() - started
    return _summary(figures, (sides[False][0], sides[False][1]), (sides[True][0], sides[True][1]), labelled_by)
