"""Evaluate a policy on a corpus: every module compiled under the policy and under the default heuristic.

The policy compiles greedily (no exploration) through the compile job; the
default's score comes from the `BaselineCache` (a plain compile with the
advisor off, computed once per module and compiler). A module whose compile
fails is recorded with `ok: false` and its error; the others go on. The
result is the evaluation JSON (ratios are policy / default, sizes in the
measurement's unit, bytes of Berkeley `text` for inlining; a module's
`language` is `c`, `c++` or `other`, from its main file's name):

    {"problem", "policy", "corpus", "compiler", "created", "measurement", "seed",
     "modules": [{"name", "language", "default", "policy", "ok", "error", "figures": {...},
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

import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.corpus.programs import Program
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.by_language import LanguagePolicies
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems.base import Problem
from compiler_opt.report.compile_sides import compile_default_side, compile_policy_side, objects_folder, reusable
from compiler_opt.report.evaluated_policy import EvaluatedPolicy, check_policy_fits, policy_digest
from compiler_opt.report.evaluation_json import module_entry, summarize
from compiler_opt.report.linked_libraries import libraries_to_link, link_libraries
from compiler_opt.report.partial import PartialResults
from compiler_opt.report.runtime import measure_programs

__all__ = ["evaluate"]


def evaluate(
    corpus: Corpus,
    problem: Problem,
    policy: EvaluatedPolicy,
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
    libraries = libraries_to_link(corpus, modules) if linked else {}
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
    check_policy_fits(policy, toolchain, problem, modules)
    with objects_folder(recording) as objects:
        reused = {side: reusable(recording, side, keep, objects / side) for side in ("default", "policy")}
        if resume and recording is not None:
            print(
                f"resuming from {recording.folder}: reusing the results of {len(reused['policy'])} of "
                f"{len(compiled)} modules under the policy and {len(reused['default'])} under the default; "
                "compiling the rest",
                file=sys.stderr,
            )
        default_scores, default_errors = compile_default_side(
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
        policy_results, policy_errors = compile_policy_side(
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
                spec.language,
            )
            for spec in modules
        ]
        linked_entries = link_libraries(toolchain, libraries, entries, objects) if linked else None
        runtime_entries = (
            measure_programs(corpus, programs, toolchain, objects, default_errors, policy_errors, runtime_runs, timeout)
            if programs
            else None
        )
    report = {
        "problem": problem.name,
        "policy": policy_label or _label(policy),
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


def _label(policy: EvaluatedPolicy) -> str:
    if isinstance(policy, LanguagePolicies):
        return policy.text
    return policy if isinstance(policy, str) else "fast policy"


def _partial_header(
    corpus: Corpus,
    problem: Problem,
    policy: EvaluatedPolicy,
    toolchain: Toolchain,
    modules: Sequence[ModuleSpec],
    linked: bool,
    programs: Sequence[Program],
    runtime_runs: int,
    seed: int,
    timeout: float,
) -> dict:
    """What an evaluation is, as its partial results record it (resuming needs the same)."""
    profiles = {spec.name: str(spec.profile) for spec in modules if spec.profile is not None}
    return {
        "problem": problem.name,
        "policy": policy_digest(policy),
        "corpus": str(Path(corpus.root).resolve()),
        "compiler": toolchain.identity,
        "modules": [spec.name for spec in modules],
        "seed": seed,
        "timeout": timeout,
        "linked": linked,
        "runtime": [program.name for program in programs],
        "runtime_runs": runtime_runs if programs else None,
        # Modules compiled with a measured profile (its path names its content's key); absent when none is.
        **({"profiles": profiles} if profiles else {}),
    }
