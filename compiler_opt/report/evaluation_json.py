"""The evaluation JSON as a file and for people: its module entries and summary, writing it, the summary tables.

`compiler_opt.report.evaluate` runs an evaluation and documents the JSON's
fields; this module builds a module's entry (both sides' scores, figures and
per-function figures) and the summary over the entries, checks an `--output`
before any compile, writes the JSON atomically and formats its summary (with
linked sizes and runtime figures, if any) as plain-text tables.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from compiler_opt.collect.compile_job import CompileResult
from compiler_opt.errors import MlgoError
from compiler_opt.problems.measurements import Score

__all__ = ["check_output", "format_summary", "module_entry", "summarize", "write_report"]


def module_entry(
    name: str,
    default: Score | None,
    policy: CompileResult | None,
    default_error: str | None,
    policy_error: str | None,
    language: str | None = None,
) -> dict:
    """Module `name`'s entry: its language (when given), both sides' scores (None where that side failed), errors,
    figures, functions."""
    figures: dict[str, float] = {}
    if default is not None:
        figures.update({f"default_{key}": value for key, value in default.figures.items()})
    if policy is not None:
        figures.update({f"policy_{key}": value for key, value in policy.score.figures.items()})
        figures["decisions"] = policy.decisions
        figures["seconds"] = round(sum(policy.seconds.values()), 4)
    errors = [f"{what}: {error}" for what, error in (("default", default_error), ("policy", policy_error)) if error]
    entry: dict[str, object] = {
        "name": name,
        **({} if language is None else {"language": language}),
        "default": None if default is None else default.value,
        "policy": None if policy is None else policy.score.value,
        "ok": not errors and default is not None and policy is not None,
        "error": "\n".join(errors) or None,
        "figures": figures,
    }
    if default is not None and policy is not None and (default.per_function or policy.score.per_function):
        entry["functions"] = _function_entries(default.per_function, policy.score.per_function)
    return entry


def _function_entries(default: Mapping[str, float], policy: Mapping[str, float]) -> list[dict]:
    """Per function (the measurement's per-function figure, e.g. regalloc cost), both sides; absent counts as 0.

    A function the measurement does not mention has nothing to report (the
    allocator writes no cost remark for a function without spills, reloads or
    copies), so its figure is 0.
    """
    names = sorted(set(default) | set(policy))
    return [{"name": n, "default": default.get(n, 0.0), "policy": policy.get(n, 0.0)} for n in names]


def summarize(entries: Iterable[Mapping]) -> dict:
    """Counts, totals and ratios (policy / default) over the modules that succeeded under both."""
    entries = list(entries)
    ok = [e for e in entries if e["ok"]]
    default_total = float(sum(e["default"] for e in ok))
    policy_total = float(sum(e["policy"] for e in ok))
    logs = [math.log(e["policy"] / e["default"]) for e in ok if e["default"] > 0 and e["policy"] > 0]
    return {
        "modules": len(entries),
        "failed": len(entries) - len(ok),
        "default_total": default_total,
        "policy_total": policy_total,
        "total_ratio": policy_total / default_total if default_total > 0 else None,
        "geomean_ratio": math.exp(sum(logs) / len(logs)) if logs else None,
    }


def check_output(path: str | os.PathLike) -> Path:
    """Refuse, before any compile, an `--output` the evaluation JSON cannot be written to; its parent folders are
    created."""
    path = Path(path)
    if path.is_dir():
        raise MlgoError(f"--output {path} is a folder; name the JSON file to write, e.g. --output {path / 'eval.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise MlgoError(
            f"--output {path}: cannot write in {path.parent} ({error.strerror or error}); create that "
            "folder or make it writable, or choose another --output"
        ) from error
    return path


def write_report(report: Mapping, path: str | os.PathLike) -> Path:
    """Write the evaluation JSON to `path` atomically (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(report, indent=1) + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    return f"{int(value):,}"


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_summary(report: Mapping) -> str:
    """The summary (and linked sizes and runtime figures, if any) as tables for people."""
    summary = report["summary"]
    rows = [
        ("problem", report["problem"]),
        ("policy", report["policy"]),
        ("modules", f"{summary['modules']} ({summary['failed']} failed)"),
        (f"default total ({report['measurement']})", _number(summary["default_total"])),
        (f"policy total ({report['measurement']})", _number(summary["policy_total"])),
        ("total ratio (policy/default)", _ratio(summary["total_ratio"])),
        ("geomean ratio", _ratio(summary["geomean_ratio"])),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    linked = report.get("linked")
    if linked:
        name_width = max(len("library"), *(len(e["library"]) for e in linked))
        lines += [
            "",
            f"{'library':<{name_width}}  {'modules':>7}  {'default .text':>13}  {'policy .text':>12}  {'ratio':>6}",
        ]
        for e in linked:
            ratio = _ratio(e["ratio"])
            lines.append(
                f"{e['library']:<{name_width}}  {e['modules']:>7}  {_number(e['default']):>13}  "
                f"{_number(e['policy']):>12}  {ratio:>6}"
            )
            if e.get("error") or e.get("skipped"):
                lines.append(f"  {(e.get('error') or e['skipped']).splitlines()[0]}")
        defaults = [e["default"] for e in linked if e["ratio"] is not None]
        policies = [e["policy"] for e in linked if e["ratio"] is not None]
        if defaults and sum(defaults):
            lines.append(
                f"{'all':<{name_width}}  {'':>7}  {_number(sum(defaults)):>13}  {_number(sum(policies)):>12}  "
                f"{sum(policies) / sum(defaults):>6.4f}"
            )
    runtime = report.get("runtime")
    if runtime:
        name_width = max(len("program"), *(len(e["program"]) for e in runtime))
        lines += [
            "",
            f"{'program':<{name_width}}  {'default instr':>14}  {'policy instr':>14}  {'ratio':>6}  "
            f"{'default s':>9}  {'policy s':>9}  {'ratio':>6}",
        ]
        for e in runtime:
            if not e["ok"]:
                lines.append(f"{e['program']:<{name_width}}  error: {(e['error'] or '').splitlines()[0]}")
                continue
            d, q = e["default"], e["policy"]
            lines.append(
                f"{e['program']:<{name_width}}  {d['instructions']:>14,}  {q['instructions']:>14,}  "
                f"{q['instructions'] / d['instructions']:>6.4f}  {d['seconds']:>9.4f}  "
                f"{q['seconds']:>9.4f}  {q['seconds'] / d['seconds']:>6.4f}"
            )
    failed = [e for e in report["modules"] if not e["ok"]]
    for entry in failed[:10]:
        lines.append(f"failed: {entry['name']}: {(entry['error'] or '').splitlines()[0]}")
    if len(failed) > 10:
        lines.append(f"... and {len(failed) - 10} more failed modules (see the JSON)")
    return "\n".join(lines)
