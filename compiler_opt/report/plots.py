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

from compiler_opt.report.analysis import projects
from compiler_opt.report.formatting import plot_text
from compiler_opt.report.inputs import Evaluation, RunLog

__all__ = [
    "Panel",
    "Plot",
    "loss_series",
    "project_chart",
    "ratio_histogram",
    "runtime_chart",
    "step_name",
    "training_curves",
    "training_panels",
]

_MAX_PROJECTS = 25
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
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def ratio_histogram(evaluation: Evaluation, label: str, filename: str) -> Plot:
    """The distribution of per-module changes (policy vs default, %), with the total change marked."""
    changes = [(m.ratio - 1.0) * 100.0 for m in evaluation.modules if m.ratio is not None]
    figure = Figure(figsize=(7, 3.6))
    axes = figure.add_subplot()
    if changes:
        axes.hist(changes, bins=min(40, max(5, int(math.sqrt(len(changes))) * 2)), color="#4c72b0")
    axes.axvline(0.0, color="black", linewidth=0.8)
    if evaluation.summary.total_ratio is not None:
        axes.axvline(
            (evaluation.summary.total_ratio - 1.0) * 100.0, color="#c44e52", linestyle="--", label="total change"
        )
        axes.legend()
    axes.set_xlabel(f"change of {evaluation.measurement_name} vs default heuristic (%)")
    axes.set_ylabel("modules")
    axes.set_title(plot_text(f"{label}: per-module change ({len(changes)} modules)"))
    return Plot(filename, f"{label}: distribution of per-module changes", _png(figure))


def project_chart(evaluation: Evaluation, label: str, filename: str) -> Plot:
    """Total change per project (the largest projects by default total), as horizontal bars."""
    totals = [t for t in projects(evaluation.modules) if t.total_ratio is not None][:_MAX_PROJECTS]
    figure = Figure(figsize=(7, 0.9 + 0.28 * max(1, len(totals))))
    axes = figure.add_subplot()
    changes = [(ratio - 1.0) * 100.0 for t in totals if (ratio := t.total_ratio) is not None]
    axes.barh(range(len(totals)), changes, color=["#55a868" if c <= 0 else "#c44e52" for c in changes])
    axes.set_yticks(range(len(totals)), [plot_text(t.project) for t in totals])
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(f"total change of {evaluation.measurement_name} (%)")
    axes.set_title(plot_text(f"{label}: per project"))
    return Plot(filename, f"{label}: total change per project", _png(figure))


def runtime_chart(evaluation: Evaluation, label: str, filename: str) -> Plot:
    """Per benchmark program, the change of each runtime figure (instructions, seconds, ...)."""
    programs = evaluation.runtime or ()
    metrics = sorted({name for p in programs for name, (d, q) in p.figures.items() if d and q is not None})
    figure = Figure(figsize=(7, 0.9 + 0.35 * max(1, len(programs)) * max(1, len(metrics))))
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(metrics))
    for index, metric in enumerate(metrics):
        values = [
            (policy / default - 1.0) * 100.0 if default and policy is not None else 0.0
            for default, policy in (p.figures.get(metric, (None, None)) for p in programs)
        ]
        axes.barh([i + index * height for i in range(len(programs))], values, height=height, label=plot_text(metric))
    axes.set_yticks([i + 0.4 - height / 2 for i in range(len(programs))], [plot_text(p.program) for p in programs])
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("change vs default heuristic (%), lower is better")
    axes.set_title(plot_text(f"{label}: runtime"))
    if metrics:
        axes.legend()
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
