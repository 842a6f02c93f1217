"""Writing a report: one self-contained HTML page, Markdown headline tables, a CSV of modules, PNG plots.

`make_report` loads evaluation files (`mlgo eval`), training run folders
(`mlgo train`) and optionally a search file (`mlgo search`), then writes into
the output folder:

    report.html   every table and plot; plots embedded as base64 PNG, a small
                  inline script sorts tables, and a Content-Security-Policy
                  forbids any network access, so the page works offline
    report.md     the headline tables, for pasting into a review
    modules.csv   one row per (evaluation, module), raw numbers for machines
    *.png         the plots, as files

All input text (module, project, policy names come from untrusted corpora)
is escaped for the format it lands in.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.progress import progress
from compiler_opt.report import formatting as fmt
from compiler_opt.report import plots as draw
from compiler_opt.report.inputs import Evaluation, RunLog, SearchResult, load_evaluation, load_run, load_search
from compiler_opt.report.tables import (
    Cell,
    Table,
    figures_table,
    headline_table,
    headroom_table,
    labels,
    linked_table,
    modules_table,
    projects_table,
    runtime_table,
    sources_table,
)

__all__ = [
    "ReportFiles",
    "ReportOutputError",
    "Section",
    "make_report",
    "render_csv",
    "render_html",
    "render_markdown",
    "runs_table",
    "write_report",
]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #d0d7de; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
.wide { overflow-x: auto; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
.good { color: #1a7f37; } .bad { color: #cf222e; } .note { color: #59636e; font-size: 0.92em; }
.scroll { max-height: 36em; overflow: auto; } figure { margin: 1em 0; } img { max-width: 100%; }
"""

_SCRIPT = """
(function () {
  function key(cell) {
    var value = cell.getAttribute("data-sort");
    if (value === null) { return cell.textContent; }
    if (value === "") { return null; }
    var number = Number(value);
    return isNaN(number) ? value : number;
  }
  function compare(a, b) {
    if (a === b) { return 0; }
    if (typeof a === "number" && typeof b === "number") { return a < b ? -1 : 1; }
    return String(a).localeCompare(String(b));
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headings = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headings, function (heading, column) {
      heading.addEventListener("click", function () {
        var ascending = heading.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headings, function (other) { other.removeAttribute("aria-sort"); });
        heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var a = key(r.cells[column]), b = key(s.cells[column]);
          if (a === null || b === null) { return a === b ? 0 : (a === null ? 1 : -1); }
          return ascending ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
"""

_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


class ReportOutputError(MlgoError):
    """The report's output folder cannot be written."""


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote."""

    html: Path
    markdown: Path
    csv: Path
    plots: tuple[Path, ...]


@dataclass(frozen=True)
class Section:
    """A titled part of the page: tables and plots, in order."""

    title: str
    anchor: str
    parts: tuple[Table | draw.Plot | str, ...]


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


def _summary_tables(
    evaluations: Sequence[Evaluation], runs: Sequence[RunLog], search: SearchResult | None
) -> list[Table]:
    """The headline tables: per policy, the headroom (with a search), the runs, where the figures come from."""
    tables = [headline_table(evaluations)] if evaluations else []
    if search is not None and evaluations:
        tables.append(headroom_table(evaluations, search))
    if runs:
        tables.append(runs_table(runs))
    if evaluations:
        tables.append(sources_table(evaluations))
    return tables


def _detail_tables(evaluation: Evaluation, label: str) -> list[Table]:
    """An evaluation's figure totals (costs, sizes), runtime figures and linked sizes, those it has."""
    return [
        table
        for table in (
            figures_table(evaluation, label),
            runtime_table(evaluation, label),
            linked_table(evaluation, label),
        )
        if table is not None
    ]


def _sections(
    evaluations: Sequence[Evaluation], runs: Sequence[RunLog], summary: Sequence[Table], plot_list: dict[str, draw.Plot]
) -> list[Section]:
    sections = [Section("Summary", "summary", tuple(summary))]
    for index, (label, evaluation) in enumerate(zip(labels(evaluations), evaluations), start=1):
        parts: list = _detail_tables(evaluation, label)
        if f"runtime-{index}" in plot_list:
            parts.append(plot_list[f"runtime-{index}"])
        parts += [
            plot_list[f"distribution-{index}"],
            projects_table(evaluation, label),
            plot_list[f"projects-{index}"],
            modules_table(evaluation, label, f"modules-{index}"),
        ]
        sections.append(Section(f"Policy: {label}", f"policy-{index}", tuple(parts)))
    if runs:
        sections.append(
            Section("Training curves", "training", tuple(plot_list[f"training-{i}"] for i in range(1, len(runs) + 1)))
        )
    return sections


def _plots(evaluations: Sequence[Evaluation], runs: Sequence[RunLog]) -> dict[str, draw.Plot]:
    names = labels(evaluations)
    work: list[tuple[str, Callable[[str, str], draw.Plot], str]] = []  # (key, drawing of its source, label)
    for index, (label, evaluation) in enumerate(zip(names, evaluations), start=1):
        work.append((f"distribution-{index}", partial(draw.ratio_histogram, evaluation), label))
        work.append((f"projects-{index}", partial(draw.project_chart, evaluation), label))
        if evaluation.runtime:
            work.append((f"runtime-{index}", partial(draw.runtime_chart, evaluation), label))
    for index, run in enumerate(runs, start=1):
        work.append((f"training-{index}", partial(draw.training_curves, run), run.name))
    plots = {}
    for key, function, label in progress(work, desc="plots", unit="plot"):
        plots[key] = function(label, f"{key}.png")
    return plots


def _html_table(table: Table) -> str:
    heading = "".join(f"<th>{fmt.html_text(column)}</th>" for column in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            classes = " ".join(c for c in ("num" if cell.numeric else "", cell.tone) if c)
            attributes = f' class="{classes}"' if classes else ""
            if cell.numeric:
                attributes += f' data-sort="{"" if cell.sort is None else fmt.html_text(repr(cell.sort))}"'
            text = fmt.html_text(cell.text)
            if not cell.numeric:
                text = text.replace("/", "/<wbr>")  # module paths may break after a slash, never inside a name
            cells.append(f"<td{attributes}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    kind = ' class="sortable"' if table.sortable else ""
    ident = f' id="{fmt.html_text(table.key)}"' if table.key else ""
    note = f'<p class="note">{fmt.html_text(table.note)}</p>' if table.note else ""
    wrapper = ' class="wide scroll"' if len(table.rows) > 25 else ' class="wide"'
    return (
        f"<h3>{fmt.html_text(table.title)}</h3>{note}<div{wrapper}><table{kind}{ident}><thead><tr>{heading}"
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _html_plot(plot: draw.Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = fmt.html_text(plot.caption)
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f'<figcaption class="note">{caption} ({fmt.html_text(plot.filename)})</figcaption></figure>'
    )


def render_html(sections: Sequence[Section], subtitle: str) -> str:
    """The whole page: a title, a navigation line, then each section's tables and plots."""
    nav = " · ".join(f'<a href="#{s.anchor}">{fmt.html_text(s.title)}</a>' for s in sections)
    body = []
    for section in sections:
        parts = [
            _html_table(p)
            if isinstance(p, Table)
            else _html_plot(p)
            if isinstance(p, draw.Plot)
            else f"<p>{fmt.html_text(p)}</p>"
            for p in section.parts
        ]
        body.append(f'<section id="{section.anchor}"><h2>{fmt.html_text(section.title)}</h2>{"".join(parts)}</section>')
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mlgo report</title><style>{_STYLE}</style></head><body>"
        f'<h1>mlgo report</h1><p class="note">{fmt.html_text(subtitle)}</p><nav>{nav}</nav>'
        f"{''.join(body)}<script>{_SCRIPT}</script></body></html>\n"
    )


def _markdown_table(table: Table) -> str:
    lines = [f"### {fmt.markdown_text(table.title)}", ""]
    if table.note:
        lines += [fmt.markdown_text(table.note), ""]
    lines.append("| " + " | ".join(fmt.markdown_text(c) for c in table.columns) + " |")
    aligns = [("---:" if table.rows and table.rows[0][i].numeric else "---") for i in range(len(table.columns))]
    lines.append("| " + " | ".join(aligns) + " |")
    lines += ["| " + " | ".join(fmt.markdown_text(cell.text) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def render_markdown(tables: Iterable[Table], subtitle: str) -> str:
    """The headline tables as GitHub-flavoured Markdown."""
    return "\n".join([f"## mlgo report\n\n{fmt.markdown_text(subtitle)}\n", *map(_markdown_table, tables)])


def render_csv(evaluations: Sequence[Evaluation]) -> str:
    """One row per (evaluation, module): raw figures, every paired figure as default_X / policy_X columns."""
    figures = list(dict.fromkeys(name for e in evaluations for m in e.modules for name in m.figures))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "policy",
            "file",
            "problem",
            "measurement",
            "module",
            "project",
            "ok",
            "default",
            "policy_value",
            "difference",
            "ratio",
            "error",
            *(f"{side}_{name}" for name in figures for side in ("default", "policy")),
        ]
    )

    def raw(value):
        return "" if value is None else repr(value) if not float(value).is_integer() else str(int(value))

    for label, e in zip(labels(evaluations), evaluations):
        for m in e.modules:
            pairs = [raw(side) for name in figures for side in m.figures.get(name, (None, None))]
            writer.writerow(
                [
                    fmt.csv_text(label),
                    fmt.csv_text(e.path.name),
                    e.problem,
                    e.measurement,
                    fmt.csv_text(m.name),
                    fmt.csv_text(m.project),
                    "true" if m.ok else "false",
                    raw(m.default),
                    raw(m.policy),
                    raw(m.delta),
                    "" if m.ratio is None else repr(m.ratio),
                    fmt.csv_text(m.error or ""),
                    *pairs,
                ]
            )
    return buffer.getvalue()


def _subtitle(evaluations: Sequence[Evaluation], runs: Sequence[RunLog]) -> str:
    parts = [
        f"{len(evaluations)} evaluation{'s' * (len(evaluations) != 1)}",
        f"{len(runs)} training run{'s' * (len(runs) != 1)}",
    ]
    compilers = sorted({e.compiler for e in evaluations if e.compiler})
    if compilers:
        parts.append("compiler: " + "; ".join(compilers))
    return ", ".join(parts)


def write_report(
    evaluations: Sequence[Evaluation],
    output: str | Path,
    runs: Sequence[RunLog] = (),
    search: SearchResult | None = None,
) -> ReportFiles:
    """Write report.html, report.md, modules.csv and the plots into `output` (created if needed)."""
    if not evaluations and not runs:
        raise MlgoError("nothing to report: give at least one evaluation file or one --runs folder")
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportOutputError(f"{output}: cannot create the report folder: {error}") from None
    plot_list = _plots(evaluations, runs)
    summary = _summary_tables(evaluations, runs, search)
    sections = _sections(evaluations, runs, summary, plot_list)
    subtitle = _subtitle(evaluations, runs)
    markdown_tables = list(summary)
    for evaluation, label in zip(evaluations, labels(evaluations)):
        markdown_tables += _detail_tables(evaluation, label)
    files = ReportFiles(
        output / "report.html",
        output / "report.md",
        output / "modules.csv",
        tuple(output / plot.filename for plot in plot_list.values()),
    )
    try:
        for plot in plot_list.values():
            (output / plot.filename).write_bytes(plot.png)
        files.html.write_text(render_html(sections, subtitle), encoding="utf-8")
        files.markdown.write_text(render_markdown(markdown_tables, subtitle), encoding="utf-8")
        files.csv.write_text(render_csv(evaluations), encoding="utf-8")
    except OSError as error:
        raise ReportOutputError(f"{output}: cannot write the report: {error}") from None
    return files


def make_report(
    eval_paths: Sequence[str | Path],
    output: str | Path,
    run_paths: Sequence[str | Path] = (),
    search_path: str | Path | None = None,
) -> ReportFiles:
    """Load the evaluation files, run folders and search file, then `write_report`."""
    evaluations = [load_evaluation(path) for path in eval_paths]
    runs = [load_run(path) for path in run_paths]
    search = None if search_path is None else load_search(search_path)
    return write_report(evaluations, output, runs, search)
