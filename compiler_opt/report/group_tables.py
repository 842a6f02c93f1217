"""An evaluation's tables by part of the corpus: per project, per language, per module, per linked library.

Each shows the policy's change vs the default heuristic, its linked change
beside its per-object one where the evaluation has linked sizes, and each
reference policy's changes beside the policy's (`reference_figures`: the
inliner's hand rule, when its evaluation is among the report's inputs).
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler_opt.report import formatting as fmt
from compiler_opt.report.analysis import linked_total, projects, redundant_figures
from compiler_opt.report.inputs import Evaluation
from compiler_opt.report.reference_figures import GroupRow, Reference, language_rows, project_rows
from compiler_opt.report.tables import Cell, Table, amount_cell, change_cell, count_cell

__all__ = ["languages_table", "linked_table", "modules_table", "projects_table"]

_BESIDE_NOTE = (
    "Changes vs the default heuristic; lower is better. A reference's changes cover the modules both "
    "evaluations compiled, and the libraries both linked."
)


def _group_table(
    evaluation: Evaluation, title: str, heading: str, rows: Sequence[GroupRow], references: Sequence[Reference]
) -> Table:
    """Per group: counts, totals, the policy's changes (and linked), each reference's (and its linked)."""
    linked = bool(evaluation.linked)
    columns = [heading, "Modules", "Failed", "Default total", "Policy total", "Total change", "Geomean change"]
    columns += ["Linked change"] if linked else []
    for ref in references:
        columns += [f"{ref.label}: total change", f"{ref.label}: geomean change"]
        columns += [f"{ref.label}: linked change"] if linked and ref.has_linked else []
    table_rows = []
    for row in rows:
        t = row.group
        cells = [
            Cell(t.name),
            count_cell(t.modules),
            count_cell(t.failed),
            amount_cell(t.default_total, evaluation.unit),
            amount_cell(t.policy_total, evaluation.unit),
            change_cell(row.policy.total),
            change_cell(row.policy.geomean),
        ]
        cells += [change_cell(row.policy.linked)] if linked else []
        for ref, side in zip(references, row.references):
            cells += [change_cell(side.total), change_cell(side.geomean)]
            cells += [change_cell(side.linked)] if linked and ref.has_linked else []
        table_rows.append(cells)
    note = _BESIDE_NOTE if references else ""
    if linked:
        note += (" " if note else "") + "Linked change: the group's libraries linked (.text), where they linked."
    return Table(title, columns, table_rows, note=note, sortable=True)


def projects_table(evaluation: Evaluation, label: str, references: Sequence[Reference] = ()) -> Table:
    """Per project (library), largest first, with the references beside the policy."""
    rows = project_rows(evaluation, references)
    return _group_table(evaluation, f"{label}: per project", "Project", rows, references)


def languages_table(evaluation: Evaluation, label: str, references: Sequence[Reference] = ()) -> Table | None:
    """Per language, with the references beside the policy; None when the evaluation recorded no languages."""
    rows = language_rows(evaluation, references)
    if not rows:
        return None
    return _group_table(evaluation, f"{label}: per language", "Language", rows, references)


def modules_table(evaluation: Evaluation, label: str, key: str, references: Sequence[Reference] = ()) -> Table:
    """Every module: its figures under both, the change, each reference's change, other figures' differences,
    and errors."""
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
            amount_cell(m.default),
            amount_cell(m.policy),
            Cell(fmt.difference(m.delta), m.delta, numeric=True),
            change_cell(m.ratio),
            *(change_cell(ref.module_ratio(m.name)) for ref in references),
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
            *(f"{ref.label}: change" for ref in references),
            *(f"Δ {name}" for name in extra),
        ],
        rows,
        note="Click a column heading to sort.",
        sortable=True,
        key=key,
    )


def linked_table(evaluation: Evaluation, label: str, references: Sequence[Reference] = ()) -> Table | None:
    """Linked library sizes (.text of each shared library) with the libraries' per-object change beside them and
    each reference's linked change; None if the evaluation has none."""
    if not evaluation.linked:
        return None
    per_object = {t.name: t for t in projects(evaluation.modules)}
    references = [ref for ref in references if ref.has_linked]
    rows = []
    for lib in evaluation.linked:
        group = per_object.get(lib.library)
        rows.append(
            [
                Cell(lib.library),
                count_cell(lib.modules),
                amount_cell(lib.default, "bytes"),
                amount_cell(lib.policy, "bytes"),
                change_cell(lib.ratio),
                change_cell(None if group is None else group.total_ratio),
                *(change_cell(ref.side((), [lib.library]).linked) for ref in references),
                Cell(lib.error.splitlines()[0] if lib.error else ""),
            ]
        )
    total = linked_total(evaluation.linked)
    if total.libraries:
        usable = [lib.library for lib in evaluation.linked if lib.ratio is not None]
        groups = [per_object[name] for name in usable if name in per_object]
        object_default = sum(g.default_total for g in groups)
        rows.append(
            [
                Cell("all libraries"),
                count_cell(sum(lib.modules or 0 for lib in evaluation.linked if lib.ratio is not None)),
                amount_cell(total.default, "bytes"),
                amount_cell(total.policy, "bytes"),
                change_cell(total.ratio),
                change_cell(sum(g.policy_total for g in groups) / object_default if object_default > 0 else None),
                *(change_cell(ref.side((), usable).linked) for ref in references),
                Cell(""),
            ]
        )
    return Table(
        f"{label}: linked libraries (.text)",
        [
            "Library",
            "Modules",
            "Default",
            "Policy",
            "Change",
            "Per-object change",
            *(f"{ref.label}: change" for ref in references),
            "Error",
        ],
        rows,
        note="Linked size is the honest code-size figure: the linker merges the copies that per-object sizes count "
        "(per-object change: the same library's modules' total text)."
        + (" A reference's change is its own link of the same library." if references else ""),
    )
