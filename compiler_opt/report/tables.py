"""The report's tables as data: titled rows of cells, each with its text for people and a sort key.

The HTML page and the Markdown file render the same `Table` objects, so the
figures they show cannot drift apart. Cell text is plain (unescaped) text;
the renderers escape it for their format.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from compiler_opt.report import formatting as fmt
from compiler_opt.report.analysis import extremes, figure_totals, headroom, projects, redundant_figures
from compiler_opt.report.inputs import Evaluation, ModuleResult, RunLog, SearchResult

__all__ = [
    "Cell",
    "Table",
    "figures_table",
    "headline_table",
    "headroom_table",
    "labels",
    "linked_table",
    "modules_table",
    "projects_table",
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


def _tone(ratio: float | None) -> str:
    if ratio is None or ratio == 1.0:
        return ""
    return "good" if ratio < 1.0 else "bad"


def _change(ratio: float | None) -> Cell:
    return Cell(fmt.change(ratio), ratio, _tone(ratio), numeric=True)


def _amount(value: float | None, unit: str = "") -> Cell:
    return Cell(fmt.amount(value, unit), value, numeric=True)


def _count(value: int | None) -> Cell:
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
                _count(e.summary.modules),
                _count(e.summary.failed),
                _amount(e.summary.default_total, e.unit),
                _amount(e.summary.policy_total, e.unit),
                _change(e.summary.total_ratio),
                _change(e.summary.geomean_ratio),
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
            _count(t.modules),
            _amount(t.default_total),
            _amount(t.policy_total),
            Cell(fmt.difference(t.policy_total - t.default_total), t.policy_total - t.default_total, numeric=True),
            _change(t.ratio),
        ]
        for t in totals
    ]
    return Table(
        f"{label}: figures, summed over modules",
        ["Figure", "Modules", "Default", "Policy", "Difference", "Change"],
        rows,
    )


def runtime_table(evaluation: Evaluation, label: str) -> Table | None:
    """Per benchmark program and runtime figure: default, policy, change; None without runtime figures."""
    if not evaluation.runtime:
        return None
    rows = []
    for program in evaluation.runtime:
        for name, (default, policy) in program.figures.items():
            ratio = policy / default if default and policy is not None else None
            rows.append(
                [Cell(program.program), Cell(name), _metric(name, default), _metric(name, policy), _change(ratio)]
            )
    return Table(f"{label}: runtime", ["Program", "Figure", "Default", "Policy", "Change"], rows)


def linked_table(evaluation: Evaluation, label: str) -> Table | None:
    """Linked library sizes (.text of each shared library); None if the evaluation has none."""
    if not evaluation.linked:
        return None
    rows = [
        [
            Cell(lib.library),
            _count(lib.modules),
            _amount(lib.default, "bytes"),
            _amount(lib.policy, "bytes"),
            _change(lib.ratio),
            Cell(lib.error.splitlines()[0] if lib.error else ""),
        ]
        for lib in evaluation.linked
    ]
    usable = [lib for lib in evaluation.linked if lib.ratio is not None]
    default = policy = 0.0
    for lib in usable:
        # evaluate.py writes a library's ratio only together with both its sizes
        assert lib.default is not None and lib.policy is not None, f"{lib.library}: a ratio without both sizes"
        default, policy = default + lib.default, policy + lib.policy
    if usable:
        rows.append(
            [
                Cell("all libraries"),
                _count(sum(lib.modules or 0 for lib in usable)),
                _amount(default, "bytes"),
                _amount(policy, "bytes"),
                _change(policy / default if default else None),
                Cell(""),
            ]
        )
    return Table(
        f"{label}: linked libraries (.text)",
        ["Library", "Modules", "Default", "Policy", "Change", "Error"],
        rows,
        note="Linked size is the honest code-size figure: the linker merges the copies that per-object sizes count.",
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
        rows.append([Cell(label), _count(room.modules), _change(found), _change(reached), share])
    return Table(
        f"Headroom found by the search ({search.path.name})",
        ["Policy", "Shared modules", "Search best change", "Policy change", "Share of headroom reached"],
        rows,
        note="Changes vs the default heuristic on the modules both the search and the evaluation cover "
        "(evaluations of another measurement are left out); the search is a greedy "
        "one-flip-at-a-time lower bound on what is possible.",
    )


def projects_table(evaluation: Evaluation, label: str) -> Table:
    rows = [
        [
            Cell(t.project),
            _count(t.modules),
            _count(t.failed),
            _amount(t.default_total, evaluation.unit),
            _amount(t.policy_total, evaluation.unit),
            _change(t.total_ratio),
            _change(t.geomean_ratio),
        ]
        for t in projects(evaluation.modules)
    ]
    return Table(
        f"{label}: per project",
        ["Project", "Modules", "Failed", "Default total", "Policy total", "Total change", "Geomean change"],
        rows,
        sortable=True,
    )


def modules_table(evaluation: Evaluation, label: str, key: str) -> Table:
    """Every module: its figures under both, the change, other figures' differences, and errors."""
    skip = redundant_figures(evaluation)
    extra = [name for name in dict.fromkeys(n for m in evaluation.modules for n in m.figures) if name not in skip]
    rows = []
    for m in evaluation.modules:
        error = (m.error or "").strip()
        status = "ok" if m.ok else f"failed: {error.splitlines()[0]}" if error else "failed"
        row = [
            Cell(m.name),
            Cell(m.project),
            Cell(status, tone="" if m.ok else "bad"),
            _amount(m.default),
            _amount(m.policy),
            Cell(fmt.difference(m.delta), m.delta, numeric=True),
            _change(m.ratio),
        ]
        for name in extra:
            default, policy = m.figures.get(name, (None, None))
            delta = None if default is None or policy is None else policy - default
            row.append(Cell(fmt.difference(delta), delta, numeric=True))
        rows.append(row)
    unit = f" ({evaluation.unit})" if evaluation.unit else ""
    return Table(
        f"{label}: modules",
        [
            "Module",
            "Project",
            "Status",
            f"Default{unit}",
            f"Policy{unit}",
            "Difference",
            "Change",
            *(f"Δ {name}" for name in extra),
        ],
        rows,
        note="Click a column heading to sort.",
        sortable=True,
        key=key,
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
