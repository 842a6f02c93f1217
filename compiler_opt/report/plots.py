"""The report's plots, drawn headless with matplotlib's Agg canvas and returned as PNG bytes.

Figures are built with `matplotlib.figure.Figure` (no pyplot), so drawing a
plot neither needs a display nor changes any global matplotlib state.
Text that comes from inputs (policy, project and run names) is escaped so
matplotlib never reads it as mathtext.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from compiler_opt.report.formatting import plot_text
from compiler_opt.report.inputs import Evaluation, RunLog
from compiler_opt.report.reference_figures import GroupRow, Reference, language_rows, project_rows

__all__ = [
    "Panel",
    "Plot",
    "language_chart",
    "loss_series",
    "project_chart",
    "ratio_histogram",
    "runtime_chart",
    "step_name",
    "training_curves",
    "training_panels",
]

_MAX_GROUPS = 25
# Colours of the references' series (the policy's own is blue).
_REFERENCE_COLORS = ("#dd8452", "#937860", "#da8bc3", "#8c8c8c")
# BC's agreement figures as the plot names them (other `*accuracy` keys keep their own names).
_ACCURACY_NAMES = {"accuracy": "training labels", "holdout_accuracy": "held-out labels"}


@dataclass(frozen=True)
class Plot:
    """One plot: a file name (no folder), a caption for people, and the PNG bytes."""

    filename: str
    caption: str
    png: bytes


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else (ratio - 1.0) * 100.0


def ratio_histogram(evaluation: Evaluation, label: str, filename: str, references: Sequence[Reference] = ()) -> Plot:
    """The distribution of per-module changes (policy vs default, %), with the total change marked; each
    reference's distribution and total over the same modules drawn over it."""
    rated = [m for m in evaluation.modules if m.ratio is not None]
    changes = [(m.ratio - 1.0) * 100.0 for m in rated if m.ratio is not None]
    theirs = [[c for m in rated if (c := _percent(ref.module_ratio(m.name))) is not None] for ref in references]
    figure = Figure(figsize=(7, 3.6))
    axes = figure.add_subplot()
    everything = changes + [c for values in theirs for c in values]
    if everything:
        bins = min(40, max(5, int(math.sqrt(len(changes) or 1)) * 2))
        low, high = min(everything), max(everything)
        low, high = (low - 0.5, high + 0.5) if low == high else (low, high)
        edges = [low + (high - low) * i / bins for i in range(bins + 1)]  # shared, so the series compare
        if changes:
            axes.hist(changes, bins=edges, color="#4c72b0", label=plot_text(label) if references else None)
        for index, (ref, values) in enumerate(zip(references, theirs)):
            color = _REFERENCE_COLORS[index % len(_REFERENCE_COLORS)]
            if values:
                axes.hist(values, bins=edges, histtype="step", linewidth=1.5, color=color, label=plot_text(ref.label))
    axes.axvline(0.0, color="black", linewidth=0.8)
    if evaluation.summary.total_ratio is not None:
        axes.axvline(
            (evaluation.summary.total_ratio - 1.0) * 100.0,
            color="#c44e52",
            linestyle="--",
            label=plot_text(f"{label}: total change") if references else "total change",
        )
    for index, ref in enumerate(references):
        total = _percent(ref.side(rated).total)
        if total is not None:
            color = _REFERENCE_COLORS[index % len(_REFERENCE_COLORS)]
            axes.axvline(total, color=color, linestyle=":", label=plot_text(f"{ref.label}: total change"))
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    axes.set_xlabel(f"change of {evaluation.measurement_name} vs default heuristic (%)")
    axes.set_ylabel("modules")
    axes.set_title(plot_text(f"{label}: per-module change ({len(changes)} modules)"))
    beside = f", beside {', '.join(ref.label for ref in references)}" if references else ""
    return Plot(filename, f"{label}: distribution of per-module changes{beside}", _png(figure))


def _group_bars(rows: Sequence[GroupRow], label: str, evaluation: Evaluation, references: Sequence[Reference]):
    """The bar series of a group chart: (name, colour, change % per group); per object, then linked."""
    linked = bool(evaluation.linked)
    series = [(f"{label} per object" if linked else label, "#4c72b0", [_percent(r.policy.total) for r in rows])]
    if linked:
        series.append((f"{label} linked", "#8172b3", [_percent(r.policy.linked) for r in rows]))
    for index, ref in enumerate(references):
        color = _REFERENCE_COLORS[index % len(_REFERENCE_COLORS)]
        totals = [_percent(row.references[index].total) for row in rows]
        series.append((f"{ref.label} per object" if linked else ref.label, color, totals))
        if linked and ref.has_linked:
            series.append((f"{ref.label} linked", color, [_percent(row.references[index].linked) for row in rows]))
    return series[:1] + [entry for entry in series[1:] if any(value is not None for value in entry[2])]


def _group_chart(
    rows: Sequence[GroupRow],
    evaluation: Evaluation,
    label: str,
    filename: str,
    what: str,
    references: Sequence[Reference],
) -> Plot:
    """Total change per group as horizontal bars: the policy's, its linked one, each reference's beside them."""
    rows = [row for row in rows if row.group.total_ratio is not None][:_MAX_GROUPS]
    series = _group_bars(rows, label, evaluation, references)
    legend_rows = (len(series) + 1) // 2 if len(series) > 1 else 0
    height = 1.0 + 0.22 * max(1, len(rows)) * (1 + len(series)) + 0.25 * legend_rows
    figure = Figure(figsize=(7, height), layout="constrained" if legend_rows else None)
    axes = figure.add_subplot()
    height = 0.8 / len(series)
    for index, (name, color, values) in enumerate(series):
        numbers = [0.0 if v is None else v for v in values]
        colors = ["#55a868" if v <= 0 else "#c44e52" for v in numbers] if len(series) == 1 else color
        hatch = "//" if name.endswith(" linked") else None
        positions = [i + index * height for i in range(len(rows))]
        axes.barh(positions, numbers, height=height, color=colors, hatch=hatch, label=plot_text(name))
    axes.set_yticks(
        [i + height * (len(series) - 1) / 2 for i in range(len(rows))], [plot_text(r.group.name) for r in rows]
    )
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(f"total change of {evaluation.measurement_name} (%)")
    axes.set_title(plot_text(f"{label}: per {what}"))
    if legend_rows:
        figure.legend(fontsize="small", loc="outside lower center", ncol=2)
    beside = f", beside {', '.join(ref.label for ref in references)}" if references else ""
    return Plot(filename, f"{label}: total change per {what}{beside}", _png(figure))


def project_chart(evaluation: Evaluation, label: str, filename: str, references: Sequence[Reference] = ()) -> Plot:
    """Total change per project (the largest projects by default total), linked and each reference's beside."""
    rows = project_rows(evaluation, references)
    return _group_chart(rows, evaluation, label, filename, "project", references)


def language_chart(evaluation: Evaluation, label: str, filename: str, references: Sequence[Reference] = ()) -> Plot:
    """Total change per language, linked and each reference's beside (an evaluation with languages)."""
    rows = language_rows(evaluation, references)
    return _group_chart(rows, evaluation, label, filename, "language", references)


def runtime_chart(evaluation: Evaluation, label: str, filename: str, references: Sequence[Reference] = ()) -> Plot:
    """Per benchmark program, the change of each runtime figure (instructions, seconds, ...), each reference's
    beside the policy's (hatched)."""
    programs = evaluation.runtime or ()
    references = [ref for ref in references if ref.evaluation.runtime]
    metrics = sorted({name for p in programs for name, (d, q) in p.figures.items() if d and q is not None})
    series = [(metric, None) for metric in metrics] + [(metric, ref) for ref in references for metric in metrics]
    figure = Figure(figsize=(7, 0.9 + 0.35 * max(1, len(programs)) * max(1, len(series))))
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(series))
    for index, (metric, ref) in enumerate(series):
        values = []
        for program in programs:
            if ref is None:
                default, policy = program.figures.get(metric, (None, None))
                ratio = policy / default if default and policy is not None else None
            else:
                ratio = ref.runtime_ratio(program.program, metric)
            values.append(0.0 if ratio is None else (ratio - 1.0) * 100.0)
        name = metric if ref is None else f"{ref.label}: {metric}"
        color = f"C{metrics.index(metric)}"
        axes.barh(
            [i + index * height for i in range(len(programs))],
            values,
            height=height,
            color=color,
            hatch=None if ref is None else "//",
            label=plot_text(name),
        )
    axes.set_yticks([i + 0.4 - height / 2 for i in range(len(programs))], [plot_text(p.program) for p in programs])
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("change vs default heuristic (%), lower is better")
    axes.set_title(plot_text(f"{label}: runtime"))
    if metrics:
        axes.legend(fontsize="small")
    return Plot(filename, f"{label}: runtime figures per program", _png(figure))


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def loss_series(iterations: Sequence[Mapping[str, Any]]) -> dict[str, list[float | None]]:
    """Each loss an iteration reports: `loss` (a number, or a mapping of named losses) and keys `*_loss`."""
    series: dict[str, list[float | None]] = {}
    for index, record in enumerate(iterations):
        found: dict[str, float | None] = {}
        loss = record.get("loss")
        if isinstance(loss, Mapping):
            found.update({str(name): _numeric(value) for name, value in loss.items()})
        elif loss is not None:
            found["loss"] = _numeric(loss)
        found.update({key: _numeric(value) for key, value in record.items() if key.endswith("_loss")})
        for name, value in found.items():
            series.setdefault(name, [None] * len(iterations))[index] = value
    return series


def _line(axes, xs: Sequence[float], ys: Sequence[float | None], label: str | None = None) -> bool:
    points = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if points:
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="." if len(points) < 50 else None,
            label=None if label is None else plot_text(label),
        )
    return bool(points)


@dataclass(frozen=True)
class Panel:
    """One panel of a run's curves: a title, named series (a value or None per iteration), a reference line."""

    title: str
    series: Mapping[str, Sequence[float | None]]
    reference: float | None = None

    def has_data(self) -> bool:
        return any(value is not None for values in self.series.values() for value in values)


def _figure(records: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    return [_numeric(record.get(key)) for record in records]


def training_panels(records: Sequence[Mapping[str, Any]]) -> list[Panel]:
    """The panels a run's log has figures for: mean reward and total vs default (PPO, ES), the losses, and the
    agreement with the labels (BC: `accuracy` on the training labels, `holdout_accuracy` on the held-out ones)."""
    accuracies = sorted({key for record in records for key in record if key.endswith("accuracy")})
    panels = [
        Panel("mean reward", {"mean reward": _figure(records, "mean_reward")}),
        Panel("total vs default (policy / default)", {"total ratio": _figure(records, "total_ratio")}, 1.0),
        Panel("losses", loss_series(records)),
        Panel(
            "agreement with the labels", {_ACCURACY_NAMES.get(key, key): _figure(records, key) for key in accuracies}
        ),
    ]
    return [panel for panel in panels if panel.has_data()]


def step_name(records: Sequence[Mapping[str, Any]]) -> str:
    """What one record of the log is: an `epoch` of behavioral cloning, else an `iteration`."""
    return "epoch" if records and all(record.get("algorithm") == "bc" for record in records) else "iteration"


def training_curves(run: RunLog, label: str, filename: str) -> Plot:
    """The figures a training run logged per iteration (per epoch for BC), one panel each; none without data."""
    records = run.iterations
    xs = [x if (x := _numeric(r.get("iteration"))) is not None else float(i) for i, r in enumerate(records)]
    step = step_name(records)
    panels = training_panels(records)
    figure = Figure(figsize=(1.4 + 3.4 * max(1, len(panels)), 3.4))
    row = figure.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for panel, axes in zip(panels, row):
        for name, values in panel.series.items():
            _line(axes, xs, values, name)
        if panel.reference is not None:
            axes.axhline(panel.reference, color="black", linewidth=0.8)
        if len(panel.series) > 1:
            axes.legend(fontsize="small")
        axes.set_title(panel.title)
        axes.set_xlabel(step)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not panels:
        row[0].axis("off")
        row[0].text(0.5, 0.5, f"no figures logged per {step}", ha="center", transform=row[0].transAxes)
    figure.suptitle(plot_text(f"training run {label}"))
    return Plot(filename, f"training run {label}: curves per {step}", _png(figure))
