"""Compiling the evaluated modules under both sides: the default heuristic's scores and the policy's results.

Each side gives its results by module and its failures (described) by
module. The modules whose objects are kept (for linking libraries, for
building programs) have them written to a folder, one `<name>.o` per module
(`object_path`); under the default those modules are compiled plainly here
(their scores refresh the baseline cache), the others' default scores come
from the cache. With partial results (`compiler_opt.report.partial`) each
result is recorded as its compile ends, and those recorded earlier for the
same evaluation are reused (`reusable`) instead of compiled again.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileResult, CompileTask, compile_jobs
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score
from compiler_opt.report.evaluated_policy import EvaluatedPolicy
from compiler_opt.report.partial import PartialResults, score_from_json, score_to_json

__all__ = ["compile_default_side", "compile_policy_side", "object_path", "objects_folder", "reusable"]


@contextlib.contextmanager
def objects_folder(partial: PartialResults | None) -> Iterator[Path]:
    """Where the kept objects go: the partial results' folder (kept for a resume), else a temporary one."""
    if partial is not None:
        partial.objects.mkdir(exist_ok=True)
        yield partial.objects
        return
    with tempfile.TemporaryDirectory(prefix="mlgo-eval-") as tmp:
        yield Path(tmp)


def object_path(folder: Path, name: str) -> Path:
    """Where the kept object of module `name` goes in `folder`."""
    return folder / (name.replace("/", "__") + ".o")


def reusable(partial: PartialResults | None, side: str, keep: set[str], folder: Path) -> dict[str, dict]:
    """The results `partial` recorded for `side` that can be reused (a kept module's only with its object)."""
    if partial is None:
        return {}
    return {
        name: line
        for name, line in partial.recorded[side].items()
        if name not in keep or "error" in line or object_path(folder, name).exists()
    }


def compile_default_side(
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    pool: WorkerPool,
    baselines: BaselineCache,
    timeout: float,
    keep: set[str],
    folder: Path,
    recorded: Mapping[str, dict],
    partial: PartialResults | None,
) -> tuple[dict[str, Score], dict[str, str]]:
    """Default scores (and errors) by module: as `recorded`, else from the cache, except the modules in `keep`,
    which are compiled plainly here so their objects can be linked (their scores refresh the cache); the new
    ones are recorded in `partial` (if any)."""
    scores = {name: score_from_json(line["score"]) for name, line in recorded.items() if "score" in line}
    errors = {name: line["error"] for name, line in recorded.items() if "error" in line}
    modules = [spec for spec in modules if spec.name not in recorded]
    cached = [spec for spec in modules if spec.name not in keep]
    if cached:
        found = baselines.get_many(BaselineCache.commands(toolchain, cached), pool, timeout=timeout, desc="default")
        for name, score in found.scores.items():
            scores[name] = _keep_score(partial, name, score)
        for name, error in found.failures.items():
            errors[name] = _keep_error(partial, "default", name, error)
    kept = [spec for spec in modules if spec.name in keep]
    if not kept:
        return scores, errors
    folder.mkdir(exist_ok=True)
    commands = BaselineCache.commands(toolchain, kept)
    tasks = [
        CompileTask(
            spec,
            problem.name,
            str(toolchain.clang),
            BASELINE_POLICY,
            explore=False,
            record=False,
            timeout=timeout,
            keep_object=True,
        )
        for spec in kept
    ]
    for result in pool.run(compile_jobs(tasks), desc="default"):
        if not result.ok:
            errors[result.key] = _keep_error(partial, "default", result.key, result.error)
            continue
        compiled: CompileResult = result.value
        baselines.put(result.key, commands[result.key], compiled.score, result.seconds)
        assert compiled.object is not None  # the task asked for keep_object, so the compile returns its bytes
        object_path(folder, result.key).write_bytes(compiled.object)
        scores[result.key] = _keep_score(partial, result.key, compiled.score)
    return scores, errors


def _keep_score(partial: PartialResults | None, name: str, score: Score) -> Score:
    """`score`, the default's of module `name`, recorded in `partial` (if any)."""
    if partial is not None:
        partial.record("default", name, score=score_to_json(score))
    return score


def _keep_error(partial: PartialResults | None, side: str, name: str, error: BaseException | None) -> str:
    """The description of `error`, the failure of module `name` under `side`, recorded in `partial` (if any)."""
    described = _describe(error)
    if partial is not None:
        partial.record(side, name, error=described)
    return described


def compile_policy_side(
    modules: Sequence[ModuleSpec],
    problem: Problem,
    policy: EvaluatedPolicy,
    toolchain: Toolchain,
    pool: WorkerPool,
    seed: int,
    timeout: float,
    keep: set[str],
    folder: Path,
    recorded: Mapping[str, dict],
    partial: PartialResults | None,
) -> tuple[dict[str, CompileResult], dict[str, str]]:
    """Policy compile results (and errors) by module: as `recorded`, else compiled here and recorded in `partial`
    (if any)."""
    results = {
        name: CompileResult(name, score_from_json(line["score"]), None, line["decisions"], line["seconds"])
        for name, line in recorded.items()
        if "score" in line
    }
    errors = {name: line["error"] for name, line in recorded.items() if "error" in line}
    modules = [spec for spec in modules if spec.name not in recorded]
    folder.mkdir(exist_ok=True)
    shared = not isinstance(policy, str)
    tasks = [
        CompileTask(
            spec,
            problem.name,
            str(toolchain.clang),
            None if shared else policy,
            explore=False,
            seed=seed,
            record=False,
            timeout=timeout,
            keep_object=spec.name in keep,
        )
        for spec in modules
    ]
    ref = pool.share(policy) if shared else None
    try:
        for result in pool.run(compile_jobs(tasks, ref), desc="policy"):
            if not result.ok:
                errors[result.key] = _keep_error(partial, "policy", result.key, result.error)
                continue
            compiled: CompileResult = result.value
            if compiled.object is not None:
                object_path(folder, result.key).write_bytes(compiled.object)
                compiled.object = None
            results[result.key] = compiled
            if partial is not None:
                partial.record(
                    "policy",
                    result.key,
                    score=score_to_json(compiled.score),
                    decisions=compiled.decisions,
                    seconds=compiled.seconds,
                )
    finally:
        if ref is not None:
            pool.release(ref)
    return results, errors


def _describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}" if error is not None else "unknown error"
