"""A greedy search for better decisions than the compiler's, module by module: the headroom a policy can reach.

For one module (`search_module`, a pool job): start from the compiler's own
decisions (the default, replayed through the channel); then, for each
decision in order, compile with the decisions before it kept, that one
flipped, and the compiler's own decisions after it (inlining one call site
changes which call sites come later, so the tail is left to the default
heuristic rather than replayed by position). A flip is kept when the score
(object size) strictly drops; the kept compile's full decision sequence is
the new starting point, and the scan goes on from the next position. When a
pass over all positions keeps no flip, the module is done (`exhausted`); a
pass that kept one starts another. `max_flips` bounds the trial compiles per
module, so large modules are searched only partly: the result is a lower
bound on the possible gain. The best decision sequence replayed exactly
reproduces the best score.

Needs a problem whose decisions take two values and whose compiler can send
its default decision (the inliner). The JSON written by `search_corpus`:

    {"problem", "corpus", "compiler", "created", "measurement", "max_flips",
     "modules": [{"name", "ok", "error", "default", "best", "ratio", "decisions", "flips_tried",
                  "flips_kept", "exhausted", "seconds", "best_actions"}],
     "summary": {"modules", "failed", "default_total", "best_total", "total_ratio", "geomean_ratio"}}

`best_actions` is the best decision sequence, one digit per decision.
`headroom_reached` compares an evaluation JSON with it.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from compiler_opt.collect.compile_job import CompileResult, replay_actions
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem

__all__ = ["ModuleSearch", "check_searchable", "format_search", "headroom_reached", "search_corpus", "search_module"]

DEFAULT_MAX_FLIPS = 200


@dataclass
class ModuleSearch:
    """One module's search: the default's score, the best found, and how far the search went."""

    name: str
    default: float
    best: float
    decisions: int
    flips_tried: int
    flips_kept: int
    exhausted: bool
    seconds: float
    best_actions: str

    @property
    def ratio(self) -> float | None:
        return self.best / self.default if self.default else None


def check_searchable(problem: Problem) -> None:
    """Refuse a problem the flip search cannot handle, saying why."""
    if problem.num_actions != 2 or problem.default_replay() is None:
        raise MlgoError(
            f"the flip search needs two-valued decisions and a compiler that sends its default decision; "
            f"problem {problem.name} has neither or only one of them"
        )


def _replayed_actions(result: CompileResult) -> list[int]:
    """The advice a replay gave, in order (replay_actions always fills `actions`)."""
    assert result.actions is not None, f"{result.module}: a replay without its actions"
    return [int(a) for a in result.actions]


def search_module(
    module: ModuleSpec, problem: str, clang: str, *, max_flips: int = DEFAULT_MAX_FLIPS, timeout: float | None = None
) -> ModuleSearch:
    """The greedy flip search on one module (see the module docstring); raises the compile's typed errors."""
    check_searchable(get_problem(problem))
    started = time.monotonic()
    start = replay_actions(module, problem, clang, [], default_tail=True, timeout=timeout)
    default = best = start.score.value
    actions = _replayed_actions(start)
    tried = kept = 0
    position = 0
    kept_this_pass = False
    exhausted = False
    while tried < max_flips:
        if position >= len(actions):
            if not kept_this_pass:
                exhausted = True
                break
            position, kept_this_pass = 0, False
            continue
        trial = replay_actions(
            module, problem, clang, [*actions[:position], 1 - actions[position]], default_tail=True, timeout=timeout
        )
        tried += 1
        if trial.score.value < best:
            best = trial.score.value
            actions = _replayed_actions(trial)
            kept += 1
            kept_this_pass = True
        position += 1
    return ModuleSearch(
        module.name,
        default,
        best,
        int(start.decisions),
        tried,
        kept,
        exhausted,
        time.monotonic() - started,
        "".join(map(str, actions)),
    )


def search_corpus(
    corpus: Corpus,
    modules: Sequence[ModuleSpec],
    problem: Problem,
    *,
    toolchain: Toolchain,
    pool: WorkerPool,
    max_flips: int = DEFAULT_MAX_FLIPS,
    timeout: float = 600.0,
) -> dict:
    """The search JSON for `modules` (one pool job per module); a module that fails is recorded, the rest go on."""
    check_searchable(problem)
    if max_flips < 0:
        raise MlgoError(f"--max-flips must be at least 0 (got {max_flips})")
    jobs = [
        Job(
            spec.name,
            search_module,
            (spec, problem.name, str(toolchain.clang)),
            {"max_flips": max_flips, "timeout": timeout},
            files=spec.files,
        )
        for spec in modules
    ]
    found: dict[str, dict] = {}
    for result in pool.run(jobs, desc="search"):
        if result.ok:
            entry = asdict(result.value)
            found[result.key] = {"ok": True, "error": None, **entry, "ratio": result.value.ratio}
        else:
            found[result.key] = {
                "name": result.key,
                "ok": False,
                "error": f"{type(result.error).__name__}: {result.error}",
            }
    entries = [found[spec.name] for spec in sorted(modules, key=lambda spec: spec.name)]
    return {
        "problem": problem.name,
        "corpus": str(corpus.root),
        "compiler": f"{toolchain.version_text} ({toolchain.clang})",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "measurement": problem.measurement.key,
        "max_flips": max_flips,
        "modules": entries,
        "summary": _summary(entries),
    }


def _summary(entries: list[dict]) -> dict:
    ok = [e for e in entries if e["ok"]]
    default_total = float(sum(e["default"] for e in ok))
    best_total = float(sum(e["best"] for e in ok))
    logs = [math.log(e["best"] / e["default"]) for e in ok if e["default"] > 0 and e["best"] > 0]
    return {
        "modules": len(entries),
        "failed": len(entries) - len(ok),
        "exhausted": sum(1 for e in ok if e["exhausted"]),
        "flips_tried": sum(e["flips_tried"] for e in ok),
        "flips_kept": sum(e["flips_kept"] for e in ok),
        "default_total": default_total,
        "best_total": best_total,
        "total_ratio": best_total / default_total if default_total > 0 else None,
        "geomean_ratio": math.exp(sum(logs) / len(logs)) if logs else None,
    }


def headroom_reached(evaluation: Mapping, search: Mapping) -> dict:
    """How much of the search's gain over the default a policy's evaluation reaches, on the modules both cover.

    `reached` = (default - policy) / (default - best) over the totals of the
    shared modules; None when the search found no gain there.
    """
    evaluated = {e["name"]: e for e in evaluation["modules"] if e["ok"]}
    searched = {e["name"]: e for e in search["modules"] if e["ok"]}
    shared = sorted(set(evaluated) & set(searched))
    default = sum(searched[name]["default"] for name in shared)
    best = sum(searched[name]["best"] for name in shared)
    policy = sum(evaluated[name]["policy"] for name in shared)
    evaluated_default = sum(evaluated[name]["default"] for name in shared)
    gain = default - best
    return {
        "modules": len(shared),
        "default_total": default,
        "best_total": best,
        "policy_total": policy,
        "policy_ratio": policy / evaluated_default if evaluated_default else None,
        "best_ratio": best / default if default else None,
        "reached": (evaluated_default - policy) / gain if gain > 0 else None,
    }


def format_search(report: Mapping) -> str:
    """The search summary as a table for people."""
    summary = report["summary"]

    def ratio(value) -> str:
        return "-" if value is None else f"{value:.4f}"

    rows = [
        ("problem", report["problem"]),
        ("modules", f"{summary['modules']} ({summary['failed']} failed, {summary['exhausted']} searched to the end)"),
        ("flips tried / kept", f"{summary['flips_tried']:,} / {summary['flips_kept']:,}"),
        (f"default total ({report['measurement']})", f"{summary['default_total']:,.0f}"),
        (f"best total ({report['measurement']})", f"{summary['best_total']:,.0f}"),
        ("total ratio (best/default)", ratio(summary["total_ratio"])),
        ("geomean ratio", ratio(summary["geomean_ratio"])),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    failed = [e for e in report["modules"] if not e["ok"]]
    lines += [f"failed: {e['name']}: {e['error'].splitlines()[0]}" for e in failed[:10]]
    return "\n".join(lines)
