"""The report's tables as data: titled rows of cells, each with its text for people and a sort key.

The HTML page and the Markdown file render the same `Table` objects, so the
figures they show cannot drift apart. Cell text is plain (unescaped) text;
the renderers escape it for their format. This module has the cells and the
summary tables; `group_tables` the per-project, per-language, per-module and
linked-library ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from compiler_opt.report import formatting as fmt
from compiler_opt.report.analysis import extremes, figure_totals, headroom
from compiler_opt.report.inputs import Evaluation, ModuleResult, RunLog, SearchResult
from compiler_opt.report.reference_figures import Reference

__all__ = [
    "Cell",
    "Table",
    "amount_cell",
    "change_cell",
    "count_cell",
    "figures_table",
    "headline_table",
    "headroom_table",
    "labels",
    "runs_table",
    "runtime_table",
    "sources_table",
]


@dataclass(frozen=True)
class Cell:
    """One table cell: `text` as shown, `sort` as ordered (numbers sort numerically), `tone` good/bad/''."""

    text: str
    sort: float | str | None = None
    tone: str = ""
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    note: str = ""
    sortable: bool = False
    key: str = ""


def labels(evaluations: Sequence[Evaluation]) -> list[str]:
    """A name per evaluation: its policy, with the file name added where two evaluations share a policy."""
    names = [e.policy for e in evaluations]
    return [f"{e.policy} [{e.path.name}]" if names.count(e.policy) > 1 else e.policy for e in evaluations]


def tone(ratio: float | None) -> str:
    if ratio is None or ratio == 1.0:
        return ""
    return "good" if ratio < 1.0 else "bad"


def change_cell(ratio: float | None) -> Cell:
    return Cell(fmt.change(ratio), ratio, tone(ratio), numeric=True)


def amount_cell(value: float | None, unit: str = "") -> Cell:
    return Cell(fmt.amount(value, unit), value, numeric=True)


def count_cell(value: int | None) -> Cell:
    return Cell(fmt.count(value), value, numeric=True)


def _metric(name: str, value: float | None) -> Cell:
    text = fmt.seconds(value) if name.endswith("seconds") else fmt.amount(value)
    return Cell(text, value, numeric=True)


def _module_with_change(module: ModuleResult) -> str:
    return f"{module.name} ({fmt.change(module.ratio)})"


def sources_table(evaluations: Sequence[Evaluation]) -> Table:
    rows = [
        [
            Cell(label),
            Cell(e.path.name),
            Cell(e.problem),
            Cell(e.measurement_name),
            Cell(e.corpus),
            Cell(e.compiler),
            Cell(e.created),
        ]
        for label, e in zip(labels(evaluations), evaluations)
    ]
    return Table("Evaluations", ["Policy", "File", "Problem", "Measurement", "Corpus", "Compiler", "Created"], rows)


def headline_table(evaluations: Sequence[Evaluation]) -> Table:
    """Per policy: modules, failed, totals, total and geomean change vs the default heuristic, extremes."""
    rows = []
    for label, e in zip(labels(evaluations), evaluations):
        best, worst = extremes(e.modules)
        rows.append(
            [
                Cell(label),
                Cell(e.problem),
                Cell(e.measurement_name),
                count_cell(e.summary.modules),
                count_cell(e.summary.failed),
                amount_cell(e.summary.default_total, e.unit),
                amount_cell(e.summary.policy_total, e.unit),
                change_cell(e.summary.total_ratio),
                change_cell(e.summary.geomean_ratio),
                Cell(_module_with_change(best[0]) if best else fmt.MISSING),
                Cell(_module_with_change(worst[0]) if worst else fmt.MISSING),
            ]
        )
    return Table(
        "Headline: policy vs the default heuristic",
        [
            "Policy",
            "Problem",
            "Measurement",
            "Modules",
            "Failed",
            "Default total",
            "Policy total",
            "Total change",
            "Geomean change",
            "Best module",
            "Worst module",
        ],
        rows,
        note="Totals and changes cover the modules that compiled under both; lower is better.",
    )


def figures_table(evaluation: Evaluation, label: str) -> Table | None:
    """The figures behind the measurement (spills, reloads, copies, sizes ...), summed; None if there are none."""
    totals = figure_totals(evaluation)
    if not totals:
        return None
    rows = [
        [
            Cell(t.name),
            count_cell(t.modules),
            amount_cell(t.default_total),
            amount_cell(t.policy_total),
            Cell(fmt.difference(t.policy_total - t.default_total), t.policy_total - t.default_total, numeric=True),
            change_cell(t.ratio),
        ]
        for t in totals
    ]
    return Table(
        f"{label}: figures, summed over modules",
        ["Figure", "Modules", "Default", "Policy", "Difference", "Change"],
        rows,
    )


def runtime_table(evaluation: Evaluation, label: str, references: Sequence[Reference] = ()) -> Table | None:
    """Per benchmark program and runtime figure: default, policy, change, and each reference's change beside it;
    None without runtime figures."""
    if not evaluation.runtime:
        return None
    references = [ref for ref in references if ref.evaluation.runtime]
    rows = []
    for program in evaluation.runtime:
        if program.error is not None:
            missing = [Cell(fmt.MISSING) for _ in range(3 + len(references))]
            rows.append([Cell(program.program), Cell(f"failed: {program.error}"), *missing])
            continue
        for name, (default, policy) in program.figures.items():
            ratio = policy / default if default and policy is not None else None
            rows.append(
                [
                    Cell(program.program),
                    Cell(name),
                    _metric(name, default),
                    _metric(name, policy),
                    change_cell(ratio),
                    *(change_cell(ref.runtime_ratio(program.program, name)) for ref in references),
                ]
            )
    return Table(
        f"{label}: runtime",
        ["Program", "Figure", "Default", "Policy", "Change", *(f"{ref.label}: change" for ref in references)],
        rows,
    )


def headroom_table(evaluations: Sequence[Evaluation], search: SearchResult) -> Table:
    """Per policy: the gain the search found on the shared modules, the policy's gain, and the share reached."""
    rows = []
    for label, e in zip(labels(evaluations), evaluations):
        if search.measurement and e.measurement != search.measurement:
            continue
        room = headroom(e, search)
        found = None if room.found is None else 1.0 - room.found
        reached = None if room.reached is None else 1.0 - room.reached
        share = Cell(fmt.MISSING if room.share is None else f"{room.share * 100.0:.1f}%", room.share, numeric=True)
        rows.append([Cell(label), count_cell(room.modules), change_cell(found), change_cell(reached), share])
    return Table(
        f"Headroom found by the search ({search.path.name})",
        ["Policy", "Shared modules", "Search best change", "Policy change", "Share of headroom reached"],
        rows,
        note="Changes vs the default heuristic on the modules both the search and the evaluation cover "
        "(evaluations of another measurement are left out); the search is a greedy "
        "one-flip-at-a-time lower bound on what is possible.",
    )


def _last(run: RunLog, name: str) -> float | None:
    for record in reversed(run.iterations):
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def runs_table(runs: Sequence[RunLog]) -> Table:
    """Per training run: problem, algorithm, iterations, and the last and best logged figures."""
    rows = []
    for run in runs:
        ratios = [
            r["total_ratio"]
            for r in run.iterations
            if isinstance(r.get("total_ratio"), (int, float)) and not isinstance(r.get("total_ratio"), bool)
        ]
        best = min(ratios) if ratios else None
        reward = _last(run, "mean_reward")
        last = _last(run, "total_ratio")
        rows.append(
            [
                Cell(run.name),
                Cell(str(run.config.get("problem", fmt.MISSING))),
                Cell(str(run.config.get("algorithm", fmt.MISSING))),
                Cell(fmt.count(len(run.iterations)), len(run.iterations), numeric=True),
                Cell(fmt.MISSING if reward is None else f"{reward:+.4f}", reward, numeric=True),
                Cell(
                    fmt.change(last),
                    last,
                    "" if last is None or last == 1 else "good" if last < 1 else "bad",
                    numeric=True,
                ),
                Cell(fmt.change(best), best, numeric=True),
            ]
        )
    return Table(
        "Training runs",
        ["Run", "Problem", "Algorithm", "Iterations", "Last mean reward", "Last total change", "Best total change"],
        rows,
        note="Changes of the training modules' total vs the default heuristic, as the run logged them.",
    )
