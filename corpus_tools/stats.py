"""Corpus statistics: modules, bitcode bytes, per library, the validation split, and optionally decisions.

Decisions are counted by running the compiler: either exactly, through a
problem's interactive channel (`count_decisions`), or as a cheap proxy, the
inliner's optimization remarks (`count_inline_remarks`: each call site it
considered, inlined or not).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.collect.actor import act, builtin_decider
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.corpus.splitting import LIBRARY_SPLIT
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.bitcode import count_inlining_remarks
from compiler_opt.llvm.cmdline import build_compile_command
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.problems import get_problem
from compiler_opt.progress import progress


@dataclass
class SplitSummary:
    """What `Corpus.split` holds out for validation: method, fraction, modules per language, whole libraries."""

    method: str
    fraction: float
    modules: dict[str, int]
    libraries: list[str]

    def line(self) -> str:
        held = ", ".join(f"{language} {count}" for language, count in sorted(self.modules.items())) or "none"
        line = (
            f"validation (by {self.method}, fraction {self.fraction:g}): {sum(self.modules.values())} modules ({held})"
        )
        return line + (f" in {', '.join(self.libraries)}" if self.method == LIBRARY_SPLIT else "")


def split_summary(corpus: Corpus, fraction: float) -> SplitSummary:
    """The validation side of `corpus.split(fraction)`, the split training runs make."""
    validation = corpus.split(fraction)[1]
    modules: dict[str, int] = {}
    for spec in validation:
        modules[spec.language] = modules.get(spec.language, 0) + 1
    return SplitSummary(corpus.split_method, fraction, modules, sorted(validation.libraries))


@dataclass
class CorpusStats:
    """Counts for a corpus; `decisions` maps module name to a count when counted."""

    modules: int
    bytes: int
    libraries: dict[str, int]
    languages: dict[str, int]
    decisions: dict[str, int] = field(default_factory=dict)
    split: SplitSummary | None = None

    def lines(self) -> list[str]:
        out = [f"modules: {self.modules}", f"bitcode bytes: {self.bytes}"]
        out.append("languages: " + ", ".join(f"{k} {v}" for k, v in sorted(self.languages.items())))
        out.append(f"libraries: {len(self.libraries)}")
        out += [f"  {name}: {count} modules" for name, count in sorted(self.libraries.items())]
        if self.split is not None:
            out.append(self.split.line())
        if self.decisions:
            values = sorted(self.decisions.values())
            out.append(
                f"decisions: {sum(values)} total, max {values[-1]} in one module, median {values[len(values) // 2]}"
            )
        return out


def corpus_stats(corpus: Corpus) -> CorpusStats:
    """Module and byte counts, per library and per language; reads no bitcode."""
    libraries: dict[str, int] = {}
    languages: dict[str, int] = {}
    for spec in corpus:
        libraries[spec.library] = libraries.get(spec.library, 0) + 1
        languages[spec.language] = languages.get(spec.language, 0) + 1
    if corpus.libraries:
        libraries = {name: len(members) for name, members in corpus.libraries.items()}
    return CorpusStats(modules=len(corpus), bytes=corpus.total_size(), libraries=libraries, languages=languages)


def count_inline_remarks(module: ModuleSpec, toolchain: Toolchain) -> int:
    """Call sites the inliner considered in `module` (passed + missed remarks)."""
    return count_inlining_remarks(toolchain, module.cc1_args, module.bitcode)


def count_decisions(module: ModuleSpec, problem_name: str, toolchain: Toolchain) -> int:
    """The decisions `problem_name`'s advisor makes compiling `module`, counted through its channel.

    Answers with the problem's `default` policy when it has one (so the compile
    follows the compiler's own choices), else with its first built-in policy.
    """
    problem = get_problem(problem_name)
    policies = [problem.policies[name] for name in ("default", *problem.policies) if name in problem.policies]
    builtin = next((policy for policy in policies if policy.make is not None), None)
    if builtin is None:
        raise MlgoError(f"problem {problem_name} has no built-in policy to answer its decisions with")
    argv = build_compile_command(
        toolchain, module.cc1_args, module.bitcode, Path(os.devnull), thinlto_index=module.thinlto_index
    )
    return act(
        toolchain,
        problem,
        argv,
        builtin_decider(toolchain, builtin),
        name=module.name,
        include_default=builtin.include_default,
        pin=False,
    ).decisions


def count_all(corpus: Corpus, counter: Callable[[ModuleSpec], int], jobs: int | None = None) -> dict[str, int]:
    """`counter` over every module in parallel (compiler-bound), with a progress bar."""
    workers = max(1, jobs or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(progress(pool.map(counter, corpus.modules), total=len(corpus), desc="count", unit="module"))
    return {spec.name: count for spec, count in zip(corpus.modules, counts)}
