"""Evaluate a policy on a corpus: every module compiled under the policy and under the default heuristic.

The policy compiles greedily (no exploration) through the compile job; the
default's score comes from the `BaselineCache` (a plain compile with the
advisor off, computed once per module and compiler). A module whose compile
fails is recorded with `ok: false` and its error; the others go on. The
result is the evaluation JSON (ratios are policy / default, sizes in the
measurement's unit, bytes of Berkeley `text` for inlining):

    {"problem", "policy", "corpus", "compiler", "created", "measurement", "seed",
     "modules": [{"name", "default", "policy", "ok", "error", "figures": {...},
                  "functions": [{"name", "default", "policy"}] (measurements with per-function figures)}],
     "summary": {"modules", "failed", "default_total", "policy_total", "total_ratio", "geomean_ratio"},
     "linked": [{"library", "modules", "default", "policy", "ratio", "default_text", "policy_text",
                 "skipped" | "error" (only when not linked)}],
     "runtime": [{"program", "library", "default": {"instructions", "seconds"}, "policy": {...}, "ok", "error"}]}

`linked` (only when asked) links each library the corpus records
(`corpus_description.json`'s "libraries") twice, from the objects compiled
under the policy and from the default's, with `-shared -Wl,--gc-sections`,
and reports the `.text` section bytes of each shared library (`default`,
`policy`) and its Berkeley text (`default_text`, `policy_text`). Per-object
size overstates C++ gains (a `linkonce_odr` copy inlined away in one object
would have been merged by the linker anyway), so the linked figure is the
honest one. A library is linked only when all its modules were evaluated and
compiled under both (part of a library does not link: its hidden symbols
live in the missing objects); the others are listed with `skipped` saying
why, and a link that fails with `error`. The default objects of the modules
linked come from plain compiles run here (their scores refresh the baseline
cache); every other default score comes from the cache.
Totals and ratios cover the modules that succeeded under both.

`runtime` (only when asked, `compiler_opt.report.runtime`) builds the
corpus's runnable programs from their libraries' objects under both sides
and reports callgrind instruction counts and median wall times. A program's
library is compiled whole, once per side, together with the evaluated
modules; its modules outside those are not in `modules` or the summary.

With `partial` (a folder, `compiler_opt.report.partial`) each module's
result under each side is recorded as its compile ends, with the objects
kept for linking; with `resume` the results recorded there for the same
evaluation are reused and only the rest is compiled. The links and
`runtime` run again from the recorded objects.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileResult, CompileTask, compile_jobs
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.corpus.programs import Program
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError, link_shared
from compiler_opt.llvm.log_format import LogHeader
from compiler_opt.llvm.measure import object_sizes
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score
from compiler_opt.problems.policy_match import check_policy_problem
from compiler_opt.progress import progress
from compiler_opt.report.evaluation_json import module_entry, summarize
from compiler_opt.report.partial import PartialResults, score_from_json, score_to_json
from compiler_opt.report.runtime import measure_program

__all__ = ["check_policy_fits", "evaluate", "load_policy"]


def load_policy(problem: Problem, policy: str) -> str | FastPolicy:
    """A built-in policy name of `problem`, or the fast form of the saved policy folder `policy`."""
    if policy in problem.policies:
        return policy
    if Path(policy).is_dir():
        fast = FastPolicy.load(policy)
        check_policy_problem(fast.spec, problem)
        return fast
    raise MlgoError(
        f"--policy {policy!r} is neither a built-in policy of {problem.name} "
        f"({', '.join(problem.policies)}) nor a saved policy folder"
    )


def check_policy_fits(
    policy: FastPolicy, toolchain: Toolchain, problem: Problem, modules: Sequence[ModuleSpec]
) -> None:
    """Refuse, before any job runs, a policy whose features this compiler does not send (asked on `modules`)."""
    from compiler_opt.collect.compile_job import problem_feature_spec

    theirs = problem_feature_spec(toolchain, problem, modules)
    policy.spec.check_compatible(
        LogHeader(theirs.features, advice=theirs.advice), source=f"{toolchain.clang} ({toolchain.version_text})"
    )


def evaluate(
    corpus: Corpus,
    problem: Problem,
    policy: str | FastPolicy,
    *,
    toolchain: Toolchain,
    pool: WorkerPool,
    baselines: BaselineCache,
    policy_label: str | None = None,
    modules: Sequence[ModuleSpec] | None = None,
    linked: bool = False,
    programs: Sequence[Program] = (),
    runtime_runs: int = 5,
    seed: int = 0,
    timeout: float = 600.0,
    partial: str | os.PathLike | None = None,
    resume: bool = False,
) -> dict:
    """The evaluation JSON of `policy` on `modules` (default: the whole corpus); see the module docstring.

    `programs` (`compiler_opt.corpus.programs`) adds the `runtime` list: each program built from its whole
    library compiled under both sides, counted under callgrind and timed (median of `runtime_runs`).
    `partial` records results as they come (and with `resume` reuses those recorded); the caller discards
    it once the JSON is written.
    """
    modules = sorted(modules if modules is not None else corpus, key=lambda spec: spec.name)
    if not modules:
        raise MlgoError(f"{corpus.root}: no modules to evaluate")
    libraries = _libraries(corpus, modules) if linked else {}
    # Objects are kept for the libraries to link and for the programs' whole libraries; a program's modules
    # outside the evaluated ones are compiled too (once per side), but they are not part of the summary.
    program_members = {name for program in programs for name in corpus.libraries[program.library]}
    keep = set().union(program_members, *(members for members, _ in libraries.values()))
    evaluated = {spec.name for spec in modules}
    compiled = modules + [corpus.module(name) for name in sorted(program_members - evaluated)]
    recording = None
    if partial is not None:
        header = _partial_header(
            corpus, problem, policy, toolchain, modules, linked, programs, runtime_runs, seed, timeout
        )
        recording = PartialResults.open(partial, header, resume=resume)
    if isinstance(policy, FastPolicy):
        check_policy_fits(policy, toolchain, problem, modules)
    with _objects_folder(recording) as objects:
        reused = {side: _reusable(recording, side, keep, objects / side) for side in ("default", "policy")}
        if resume and recording is not None:
            print(
                f"resuming from {recording.folder}: reusing the results of {len(reused['policy'])} of "
                f"{len(compiled)} modules under the policy and {len(reused['default'])} under the default; "
                "compiling the rest",
                file=sys.stderr,
            )
        default_scores, default_errors = _default_scores(
            compiled,
            problem,
            toolchain,
            pool,
            baselines,
            timeout,
            keep,
            objects / "default",
            reused["default"],
            recording,
        )
        policy_results, policy_errors = _policy_results(
            compiled,
            problem,
            policy,
            toolchain,
            pool,
            seed,
            timeout,
            keep,
            objects / "policy",
            reused["policy"],
            recording,
        )
        entries = [
            module_entry(
                spec.name,
                default_scores.get(spec.name),
                policy_results.get(spec.name),
                default_errors.get(spec.name),
                policy_errors.get(spec.name),
            )
            for spec in modules
        ]
        linked_entries = _link_libraries(toolchain, libraries, entries, objects) if linked else None
        runtime_entries = (
            _runtime(corpus, programs, toolchain, objects, default_errors, policy_errors, runtime_runs, timeout)
            if programs
            else None
        )
    report = {
        "problem": problem.name,
        "policy": policy_label or (policy if isinstance(policy, str) else "fast policy"),
        "corpus": str(corpus.root),
        "compiler": f"{toolchain.version_text} ({toolchain.clang})",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "measurement": problem.measurement.key,
        "seed": seed,
        "modules": entries,
        "summary": summarize(entries),
    }
    if linked_entries is not None:
        report["linked"] = linked_entries
    if runtime_entries is not None:
        report["runtime"] = runtime_entries
    return report


def _partial_header(
    corpus: Corpus,
    problem: Problem,
    policy: str | FastPolicy,
    toolchain: Toolchain,
    modules: Sequence[ModuleSpec],
    linked: bool,
    programs: Sequence[Program],
    runtime_runs: int,
    seed: int,
    timeout: float,
) -> dict:
    """What an evaluation is, as its partial results record it (resuming needs the same)."""
    return {
        "problem": problem.name,
        "policy": policy if isinstance(policy, str) else policy.digest(),
        "corpus": str(Path(corpus.root).resolve()),
        "compiler": toolchain.identity,
        "modules": [spec.name for spec in modules],
        "seed": seed,
        "timeout": timeout,
        "linked": linked,
        "runtime": [program.name for program in programs],
        "runtime_runs": runtime_runs if programs else None,
    }


@contextlib.contextmanager
def _objects_folder(partial: PartialResults | None) -> Iterator[Path]:
    """Where the kept objects go: the partial results' folder (kept for a resume), else a temporary one."""
    if partial is not None:
        partial.objects.mkdir(exist_ok=True)
        yield partial.objects
        return
    with tempfile.TemporaryDirectory(prefix="mlgo-eval-") as tmp:
        yield Path(tmp)


def _runtime(
    corpus: Corpus,
    programs: Sequence[Program],
    toolchain: Toolchain,
    objects: Path,
    default_errors: Mapping[str, str],
    policy_errors: Mapping[str, str],
    runs: int,
    timeout: float,
) -> list[dict]:
    """Build, run and count each program from its library's objects under both sides (in `objects/<side>`)."""
    entries = []
    for program in progress(programs, desc="runtime", unit="program"):
        members = corpus.libraries[program.library]
        failed = [
            f"{name} ({side})"
            for side, errors in (("default", default_errors), ("policy", policy_errors))
            for name in members
            if name in errors
        ]
        if failed:
            entries.append(
                {
                    "program": program.name,
                    "library": program.library,
                    "ok": False,
                    "error": f"modules of {program.library} did not compile: {', '.join(failed)}",
                }
            )
            continue
        entries.append(
            measure_program(
                toolchain,
                program,
                {side: [_object_path(objects / side, name) for name in members] for side in ("default", "policy")},
                runs=runs,
                timeout=timeout,
            )
        )
    return entries


def _libraries(corpus: Corpus, modules: Sequence[ModuleSpec]) -> dict[str, tuple[set[str], int]]:
    """Each library with evaluated members: (those members, how many members it has in the corpus)."""
    if not corpus.libraries:
        raise MlgoError(
            f'{corpus.root}: the corpus records no libraries (no "libraries" in '
            "corpus_description.json), so there is nothing to link; leave out --linked"
        )
    names = {spec.name for spec in modules}
    return {
        library: (set(members) & names, len(members))
        for library, members in sorted(corpus.libraries.items())
        if set(members) & names
    }


def _object_path(folder: Path, name: str) -> Path:
    return folder / (name.replace("/", "__") + ".o")


def _reusable(partial: PartialResults | None, side: str, keep: set[str], folder: Path) -> dict[str, dict]:
    """The results `partial` recorded for `side` that can be reused (a kept module's only with its object)."""
    if partial is None:
        return {}
    return {
        name: line
        for name, line in partial.recorded[side].items()
        if name not in keep or "error" in line or _object_path(folder, name).exists()
    }


def _default_scores(
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
        _object_path(folder, result.key).write_bytes(compiled.object)
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


def _policy_results(
    modules: Sequence[ModuleSpec],
    problem: Problem,
    policy: str | FastPolicy,
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
    shared = isinstance(policy, FastPolicy)
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
                _object_path(folder, result.key).write_bytes(compiled.object)
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


def _link_libraries(
    toolchain: Toolchain, libraries: Mapping[str, tuple[set[str], int]], entries: list[dict], objects: Path
) -> list[dict]:
    """Link every library whose modules all compiled under both; the others are listed as skipped, with why."""
    ok = {entry["name"] for entry in entries if entry["ok"]}
    linked = []
    for library, (members, size) in libraries.items():
        usable = sorted(members & ok)
        entry = {"library": library, "modules": len(usable), "default": None, "policy": None, "ratio": None}
        if len(usable) < size:
            # A part of a library does not link (its hidden symbols are defined in the missing objects).
            entry["skipped"] = (
                f"{len(usable)} of its {size} modules evaluated and compiled under both; "
                "evaluate the whole library to link it"
            )
            linked.append(entry)
            continue
        sizes = {}
        try:
            for side in ("default", "policy"):
                output = objects / f"lib{library.replace('/', '__')}.{side}.so"
                link_shared(
                    toolchain,
                    [_object_path(objects / side, name) for name in usable],
                    output,
                    name=f"library {library} ({side})",
                )
                sizes[side] = object_sizes(toolchain, [output])[0]
        except LinkError as error:
            linked.append({**entry, "error": str(error)})
            continue
        default, policy = sizes["default"].text_section, sizes["policy"].text_section
        linked.append(
            {
                **entry,
                "default": default,
                "policy": policy,
                "ratio": policy / default if default else None,
                "default_text": sizes["default"].text,
                "policy_text": sizes["policy"].text,
            }
        )
    return linked
