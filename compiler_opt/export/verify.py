"""The export check: every exported form of a policy decides exactly as the policy did while compiling.

`record_observations` compiles corpus modules (in a seeded order) through
the interactive channel with the policy's numpy fast form acting greedily,
exactly as `mlgo eval` and `mlgo cc` do, and keeps the first N observations
with the decision taken on each. `check_forms` then asks every form for its
decision on every observation:

    numpy        the fast form loaded from the policy folder, batched over the recorded features
    saved_model  OUT/saved_model's `action` signature in TensorFlow, one observation per call
    tflite       OUT/tflite/model.tflite through ai_edge_litert, one observation per call
    aot          OUT/aot's object, linked into the C++ check harness, run over a file of the records

Any form that differs from the decision taken in the compile on any
observation fails the check; `VerifyMismatch` names the first such
observation (module, decision index, every form's answer, the policy's
logits and the feature values).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compiler_opt.collect.compile_job import CompileTask, run_compile_task
from compiler_opt.corpus.loading import Corpus
from compiler_opt.export.observations import ObservationSet
from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.failures import CompilerFailure
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.problems.base import Problem
from compiler_opt.progress import progress

REFERENCE = "compile"


class VerifyMismatch(ExportError):
    """An exported form decided differently from the policy on a recorded observation."""


@dataclass
class VerifyReport:
    """How many observations were checked, from which modules, and what each form agreed on."""

    observations: int
    modules: list[str]
    failed_modules: dict[str, str]
    agreed: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    decision_counts: dict[str, int] = field(default_factory=dict)
    aot_runtime: str | None = None

    def to_json(self) -> dict:
        return {
            "observations": self.observations,
            "modules": self.modules,
            "failed_modules": self.failed_modules,
            "agreed": self.agreed,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "decision_counts": self.decision_counts,
            "aot_runtime": self.aot_runtime,
        }


def record_observations(
    policy: FastPolicy,
    problem: Problem,
    corpus: Corpus,
    clang: str,
    count: int,
    *,
    seed: int = 0,
    timeout: float | None = None,
) -> tuple[ObservationSet, dict[str, str]]:
    """The first `count` observations of compiling `corpus` (seeded order) under `policy`, greedy.

    Modules that fail to compile are skipped and returned with their errors.
    """
    if count < 1:
        raise ExportError(f"--verify needs a positive number of observations (got {count})")
    parts: list = []
    failed: dict[str, str] = {}
    total = 0
    with progress(total=count, desc="recording observations", unit="obs") as bar:
        for module in corpus.sample(len(corpus), seed):
            if total >= count:
                break
            task = CompileTask(module, problem.name, clang, policy, explore=False, record=True, timeout=timeout)
            try:
                result = run_compile_task(task)
            except CompilerFailure as error:
                failed[module.name] = str(error).splitlines()[0]
                continue
            trajectory = result.trajectory
            take = 0 if trajectory is None else min(len(trajectory), count - total)  # None: no decision
            if take:
                parts.append((module.name, trajectory, take))
                total += take
                bar.update(take)
    if total < count:
        raise ExportError(
            f"compiling all {len(corpus)} modules of {corpus.root} gave {total} observations, "
            f"fewer than the {count} asked for; verify fewer or use a larger corpus"
        )
    features = {name: np.concatenate([t.features[name][:take] for _, t, take in parts]) for name in policy.spec.names}
    modules = tuple(name for name, _, take in parts for _ in range(take))
    steps = tuple(step for _, _, take in parts for step in range(take))
    decisions = np.concatenate([np.asarray(t.actions[:take]).reshape(take) for _, t, take in parts])
    return ObservationSet(policy.spec, features, modules, steps, decisions), failed


def check_forms(
    observations: ObservationSet, forms: Mapping[str, Callable[[ObservationSet], np.ndarray]], policy: FastPolicy
) -> tuple[dict[str, int], dict[str, float]]:
    """Run every form on `observations`; raise `VerifyMismatch` at the first disagreement with the compile.

    Returns each form's agreement count (all of them) and seconds.
    """
    answers: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    reference = np.asarray(observations.decisions).reshape(-1)
    for name, form in forms.items():
        started = time.monotonic()
        answers[name] = np.asarray(form(observations)).reshape(-1)
        seconds[name] = time.monotonic() - started
        if answers[name].shape != reference.shape:
            raise VerifyMismatch(
                f"the {name} form gave {answers[name].size} decisions for {reference.size} observations"
            )
    differing = [int(np.flatnonzero(a != reference)[0]) for a in answers.values() if np.any(a != reference)]
    if differing:
        index = min(differing)
        logits = policy.logits_batch({k: v[index : index + 1] for k, v in observations.features.items()})[0]
        verdicts = ", ".join(f"{name} {answers[name][index].item()}" for name in answers)
        counts = ", ".join(f"{name} {int(np.sum(a != reference))}" for name, a in answers.items())
        raise VerifyMismatch(
            f"the exported forms do not decide as the policy did. First difference at "
            f"{observations.describe(index)}\n  decisions: {REFERENCE} {reference[index].item()}, {verdicts}"
            f"\n  policy logits: {np.array2string(logits, precision=9)}"
            f"\n  observations that differ, per form: {counts} of {reference.size}"
        )
    return {name: int(reference.size) for name in answers}, seconds


def numpy_form(policy: FastPolicy) -> Callable[[ObservationSet], np.ndarray]:
    """The fast form on the recorded features, batched: greedy action = argmax of the logits."""
    return lambda observations: np.argmax(policy.logits_batch(observations.features), axis=-1)


def one_at_a_time(
    model: Callable[[Mapping[str, np.ndarray]], object], dtype: np.dtype, desc: str
) -> Callable[[ObservationSet], np.ndarray]:
    """A form called once per observation (SavedModel, TFLite), with a progress bar."""

    def run(observations: ObservationSet) -> np.ndarray:
        return np.array(
            [model(row) for row in progress(observations.rows(), total=len(observations), desc=desc, unit="obs")],
            dtype=dtype,
        )

    return run


def saved_model_form(folder: Path, dtype: np.dtype) -> Callable[[ObservationSet], np.ndarray]:
    from compiler_opt.policy.saved import SavedPolicy  # pylint: disable=import-outside-toplevel

    return one_at_a_time(SavedPolicy(folder), dtype, "checking the SavedModel")


def tflite_form(folder: Path, spec: FeatureSpec, dtype: np.dtype) -> Callable[[ObservationSet], np.ndarray]:
    from compiler_opt.export.tflite import TfliteModel  # pylint: disable=import-outside-toplevel

    return one_at_a_time(TfliteModel(folder, spec), dtype, "checking the TFLite model")
