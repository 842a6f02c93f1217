"""Writing a report: the evaluations, runs and search loaded, arranged into sections, written as files.

`make_report` loads evaluation files (`mlgo eval`), training run folders
(`mlgo train`) and optionally a search file (`mlgo search`), then writes into
the output folder:

    report.html   every table and plot (`compiler_opt.report.html_page`)
    report.md     the headline tables (and each evaluation's linked, runtime and
                  per-language ones), for pasting into a review
    modules.csv   one row per (evaluation, module), raw numbers for machines
                  (both `compiler_opt.report.text_files`)
    *.png         the plots, as files

An evaluation of a reference policy (a built-in one other than the
compiler's replayed decisions: the inliner's hand rule) is shown beside
every other evaluation of its problem and measurement, in every per-project,
per-language, per-module and linked table and in every plot
(`reference_figures`), and the page opens with the verdicts (`references`).

All input text (module, project, policy names come from untrusted corpora)
is escaped for the format it lands in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.progress import progress
from compiler_opt.report import plots as draw
from compiler_opt.report.group_tables import languages_table, linked_table, modules_table, projects_table
from compiler_opt.report.html_page import Section, render_html
from compiler_opt.report.inputs import Evaluation, RunLog, SearchResult, load_evaluation, load_run, load_search
from compiler_opt.report.reference_figures import Reference, references_for
from compiler_opt.report.references import verdicts
from compiler_opt.report.tables import (
    Table,
    figures_table,
    headline_table,
    headroom_table,
    labels,
    runs_table,
    runtime_table,
    sources_table,
)
from compiler_opt.report.text_files import render_csv, render_markdown

__all__ = ["ReportFiles", "ReportOutputError", "make_report", "write_report"]


class ReportOutputError(MlgoError):
    """The report's output folder cannot be written."""


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote."""

    html: Path
    markdown: Path
    csv: Path
    plots: tuple[Path, ...]


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


def _beside(evaluations: Sequence[Evaluation]) -> list[tuple[Reference, ...]]:
    """Per evaluation, the references shown beside it (`reference_figures.references_for`)."""
    names = labels(evaluations)
    return [references_for(evaluation, evaluations, names) for evaluation in evaluations]


def _detail_tables(evaluation: Evaluation, label: str, references: Sequence[Reference]) -> list[Table]:
    """An evaluation's figure totals (costs, sizes), runtime figures, linked sizes and languages, those it has."""
    return [
        table
        for table in (
            figures_table(evaluation, label),
            runtime_table(evaluation, label, references),
            linked_table(evaluation, label, references),
            languages_table(evaluation, label, references),
        )
        if table is not None
    ]


def _sections(
    evaluations: Sequence[Evaluation],
    beside: Sequence[Sequence[Reference]],
    runs: Sequence[RunLog],
    summary: Sequence[Table],
    plot_list: dict[str, draw.Plot],
) -> list[Section]:
    sections = [Section("Summary", "summary", tuple(summary))]
    for index, (label, evaluation) in enumerate(zip(labels(evaluations), evaluations), start=1):
        references = beside[index - 1]
        parts: list = _detail_tables(evaluation, label, references)
        parts += [plot_list[key] for key in (f"runtime-{index}", f"languages-{index}") if key in plot_list]
        parts += [
            plot_list[f"distribution-{index}"],
            projects_table(evaluation, label, references),
            plot_list[f"projects-{index}"],
            modules_table(evaluation, label, f"modules-{index}", references),
        ]
        sections.append(Section(f"Policy: {label}", f"policy-{index}", tuple(parts)))
    if runs:
        sections.append(
            Section("Training curves", "training", tuple(plot_list[f"training-{i}"] for i in range(1, len(runs) + 1)))
        )
    return sections


def _plots(
    evaluations: Sequence[Evaluation], beside: Sequence[Sequence[Reference]], runs: Sequence[RunLog]
) -> dict[str, draw.Plot]:
    names = labels(evaluations)
    work: list[tuple[str, Callable[[str, str], draw.Plot], str]] = []  # (key, drawing of its source, label)
    for index, (label, evaluation, references) in enumerate(zip(names, evaluations, beside), start=1):
        work.append((f"distribution-{index}", partial(draw.ratio_histogram, evaluation, references=references), label))
        work.append((f"projects-{index}", partial(draw.project_chart, evaluation, references=references), label))
        if any(module.language is not None for module in evaluation.modules):
            work.append((f"languages-{index}", partial(draw.language_chart, evaluation, references=references), label))
        if evaluation.runtime:
            work.append((f"runtime-{index}", partial(draw.runtime_chart, evaluation, references=references), label))
    for index, run in enumerate(runs, start=1):
        work.append((f"training-{index}", partial(draw.training_curves, run), run.name))
    plots = {}
    for key, function, label in progress(work, desc="plots", unit="plot"):
        plots[key] = function(label, f"{key}.png")
    return plots


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
    beside = _beside(evaluations)
    plot_list = _plots(evaluations, beside, runs)
    summary = _summary_tables(evaluations, runs, search)
    sections = _sections(evaluations, beside, runs, summary, plot_list)
    subtitle = _subtitle(evaluations, runs)
    verdict_lines = [verdict.line() for verdict in verdicts(evaluations)]
    markdown_tables = list(summary)
    for evaluation, label, references in zip(evaluations, labels(evaluations), beside):
        markdown_tables += _detail_tables(evaluation, label, references)
    files = ReportFiles(
        output / "report.html",
        output / "report.md",
        output / "modules.csv",
        tuple(output / plot.filename for plot in plot_list.values()),
    )
    try:
        for plot in plot_list.values():
            (output / plot.filename).write_bytes(plot.png)
        files.html.write_text(render_html(sections, subtitle, verdict_lines), encoding="utf-8")
        files.markdown.write_text(render_markdown(markdown_tables, subtitle, verdict_lines), encoding="utf-8")
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
