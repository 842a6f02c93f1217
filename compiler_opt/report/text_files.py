"""The report's plain-text files: the headline tables as Markdown, and one CSV row per (evaluation, module).

Text is escaped for the format it lands in: Markdown's table syntax, and
spreadsheet formulas in CSV cells (names come from untrusted corpora).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from compiler_opt.report import formatting as fmt
from compiler_opt.report.inputs import Evaluation
from compiler_opt.report.tables import Table, labels

__all__ = ["render_csv", "render_markdown"]


def _markdown_table(table: Table) -> str:
    lines = [f"### {fmt.markdown_text(table.title)}", ""]
    if table.note:
        lines += [fmt.markdown_text(table.note), ""]
    lines.append("| " + " | ".join(fmt.markdown_text(c) for c in table.columns) + " |")
    aligns = [("---:" if table.rows and table.rows[0][i].numeric else "---") for i in range(len(table.columns))]
    lines.append("| " + " | ".join(aligns) + " |")
    lines += ["| " + " | ".join(fmt.markdown_text(cell.text) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def render_markdown(tables: Iterable[Table], subtitle: str, verdicts: Sequence[str] = ()) -> str:
    """The verdicts (learned policies against built-in ones) and the headline tables as GitHub-flavoured Markdown."""
    lines = "".join(f"**{fmt.markdown_text(line)}**\n\n" for line in verdicts)
    head = f"## mlgo report\n\n{lines}{fmt.markdown_text(subtitle)}\n"
    return "\n".join([head, *map(_markdown_table, tables)])


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
            "language",
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
                    fmt.csv_text(m.language or ""),
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
