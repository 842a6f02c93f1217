"""Reading what a report is made of: evaluation JSON files, training run folders, search results.

Each loader checks its file against the shared contract and raises a
`ReportInputError` naming the file (and the line or field) when it does not
fit, so a bad input never turns into a half-written report.

- Evaluation JSON (`mlgo eval`): see `compiler_opt.report.evaluate`. A module's
  `language` is optional (older files have none); its `figures` hold both sides' figures as `default_<name>` / `policy_<name>`
  (either may be absent); an optional top-level `runtime` list holds one entry
  per benchmark program, `{"program", "default_<metric>", "policy_<metric>", ...}`
  or `{"program", "default": {metric: value}, "policy": {metric: value}}`.
- Training run folder (`mlgo train`): `log.jsonl`, one JSON object per
  iteration; `config.json` is optional here. A last line without its newline
  that does not parse is a line still being written and is left out.
- Search JSON (`mlgo search`): `{"modules": [{"name", "default", "best", "ok"?}]}`,
  the default heuristic's figure and the best one the search found, per module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from compiler_opt.errors import MlgoError
from compiler_opt.problems.measurements import RegallocCostMeasurement, TextSize

__all__ = [
    "Evaluation",
    "LinkedLibrary",
    "ModuleResult",
    "ReportInputError",
    "RunLog",
    "RuntimeProgram",
    "SearchResult",
    "Summary",
    "load_evaluation",
    "load_run",
    "load_search",
    "measurement_label",
    "paired_figures",
]

_MEASUREMENTS = {cls.key: (cls.name, cls.unit) for cls in (TextSize, RegallocCostMeasurement)}
_SUMMARY_KEYS = ("modules", "failed", "default_total", "policy_total", "total_ratio", "geomean_ratio")
_SIDES = ("default", "policy")

Pair = tuple[float | None, float | None]


class ReportInputError(MlgoError):
    """An evaluation file, run folder or search file that a report cannot be made from."""


def measurement_label(key: str) -> tuple[str, str]:
    """(name, unit) of a measurement key as evaluation files write it; unknown keys are shown as they are."""
    return _MEASUREMENTS.get(key, (key, ""))


@dataclass(frozen=True)
class ModuleResult:
    """One module of an evaluation: both sides' figure (None where that compile failed)."""

    name: str
    ok: bool
    default: float | None
    policy: float | None
    error: str | None = None
    figures: Mapping[str, Pair] = field(default_factory=dict)
    language: str | None = None  # c, c++, other, as the evaluation recorded it (None in older files)

    @property
    def project(self) -> str:
        """The first path component of the module's name ("(top level)" for a bare name)."""
        head, sep, _ = self.name.partition("/")
        return head if sep and head else "(top level)"

    @property
    def ratio(self) -> float | None:
        if not self.ok or self.default is None or self.policy is None or self.default <= 0:
            return None
        return self.policy / self.default

    @property
    def delta(self) -> float | None:
        if not self.ok or self.default is None or self.policy is None:
            return None
        return self.policy - self.default


@dataclass(frozen=True)
class Summary:
    modules: int
    failed: int
    default_total: float
    policy_total: float
    total_ratio: float | None
    geomean_ratio: float | None


@dataclass(frozen=True)
class LinkedLibrary:
    library: str
    default: float | None
    policy: float | None
    ratio: float | None
    modules: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class RuntimeProgram:
    """One benchmark program's runtime figures (instructions, seconds, ...), default and policy; a program that
    failed (a build that did not link or run, or builds that printed different output) has its `error` and no
    figures."""

    program: str
    figures: Mapping[str, Pair]
    error: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """One evaluation file, checked."""

    path: Path
    problem: str
    policy: str
    corpus: str
    compiler: str
    created: str
    measurement: str
    modules: tuple[ModuleResult, ...]
    summary: Summary
    linked: tuple[LinkedLibrary, ...] | None = None
    runtime: tuple[RuntimeProgram, ...] | None = None

    @property
    def unit(self) -> str:
        return measurement_label(self.measurement)[1]

    @property
    def measurement_name(self) -> str:
        return measurement_label(self.measurement)[0]


@dataclass(frozen=True)
class RunLog:
    """A training run folder's iterations (log.jsonl) and configuration (config.json, if any)."""

    path: Path
    iterations: tuple[Mapping[str, Any], ...]
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.resolve().name


@dataclass(frozen=True)
class SearchResult:
    """Per module: (the default heuristic's figure, the best figure the search found)."""

    path: Path
    modules: Mapping[str, tuple[float, float]]
    problem: str = ""
    measurement: str = ""


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportInputError(f"{path}: cannot read this {what}: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{path}: not valid JSON ({error}); is it really a {what}?") from None


@overload
def _number(value: Any, where: str, *, optional: Literal[False] = False) -> float: ...


@overload
def _number(value: Any, where: str, *, optional: bool) -> float | None: ...


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReportInputError(f"{where}: expected a number, found {value!r}")
    return float(value)


def paired_figures(entry: Mapping[str, Any], where: str) -> dict[str, Pair]:
    """{name: (default, policy)} from `default_<name>` / `policy_<name>` keys, or `default`/`policy` mappings.

    Names keep the order the file gives them (the default side's first).
    """
    pairs: dict[str, list] = {}
    nested = {side: entry.get(side) for side in _SIDES if isinstance(entry.get(side), Mapping)}
    for index, side in enumerate(_SIDES):
        values = nested.get(side) or {
            key[len(side) + 1 :]: value
            for key, value in entry.items()
            if isinstance(key, str) and key.startswith(side + "_")
        }
        for name, value in values.items():
            if isinstance(value, (int, float)) or value is None:
                pairs.setdefault(name, [None, None])[index] = _number(value, f"{where}: {side}_{name}", optional=True)
    return {name: (pair[0], pair[1]) for name, pair in pairs.items()}


def _module(entry: Any, where: str) -> ModuleResult:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ReportInputError(f'{where}: a module must be an object with a string "name"')
    where = f"{where} ({entry['name']!r})"
    if not isinstance(entry.get("ok"), bool):
        raise ReportInputError(f'{where}: "ok" must be true or false')
    default = _number(entry.get("default"), f"{where}: default", optional=True)
    policy = _number(entry.get("policy"), f"{where}: policy", optional=True)
    if entry["ok"] and (default is None or policy is None):
        raise ReportInputError(f'{where}: a module with "ok": true needs numbers for default and policy')
    figures = entry.get("figures") or {}
    if not isinstance(figures, Mapping):
        raise ReportInputError(f'{where}: "figures" must be an object')
    error, language = entry.get("error"), entry.get("language")
    return ModuleResult(
        entry["name"],
        entry["ok"],
        default,
        policy,
        None if error is None else str(error),
        paired_figures(figures, f"{where}: figures"),
        language if isinstance(language, str) and language else None,
    )


def _summary(value: Any, where: str) -> Summary:
    if not isinstance(value, Mapping) or any(key not in value for key in _SUMMARY_KEYS):
        raise ReportInputError(f'{where}: "summary" must hold {", ".join(_SUMMARY_KEYS)}')
    counts = [value[key] for key in ("modules", "failed")]
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise ReportInputError(f'{where}: summary "modules" and "failed" must be counts')
    return Summary(
        counts[0],
        counts[1],
        _number(value["default_total"], f"{where}: summary default_total"),
        _number(value["policy_total"], f"{where}: summary policy_total"),
        _number(value["total_ratio"], f"{where}: summary total_ratio", optional=True),
        _number(value["geomean_ratio"], f"{where}: summary geomean_ratio", optional=True),
    )


def _linked(value: Any, where: str) -> tuple[LinkedLibrary, ...]:
    if not isinstance(value, list):
        raise ReportInputError(f'{where}: "linked" must be a list')
    libraries = []
    for index, entry in enumerate(value):
        here = f"{where}: linked[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("library"), str):
            raise ReportInputError(f'{here}: must be an object with a string "library"')
        modules = entry.get("modules")
        libraries.append(
            LinkedLibrary(
                entry["library"],
                _number(entry.get("default"), f"{here}: default", optional=True),
                _number(entry.get("policy"), f"{here}: policy", optional=True),
                _number(entry.get("ratio"), f"{here}: ratio", optional=True),
                modules if isinstance(modules, int) and not isinstance(modules, bool) else None,
                None if entry.get("error") is None else str(entry["error"]),
            )
        )
    return tuple(libraries)


def _runtime(value: Any, where: str) -> tuple[RuntimeProgram, ...]:
    if not isinstance(value, list):
        raise ReportInputError(f'{where}: "runtime" must be a list')
    programs = []
    for index, entry in enumerate(value):
        here = f"{where}: runtime[{index}]"
        name = entry.get("program", entry.get("name")) if isinstance(entry, Mapping) else None
        if not isinstance(name, str):
            raise ReportInputError(f'{here}: must be an object with a string "program"')
        if entry.get("ok") is False:
            programs.append(RuntimeProgram(name, {}, str(entry.get("error") or "failed")))
        else:
            programs.append(RuntimeProgram(name, paired_figures(entry, here)))
    return tuple(programs)


def load_evaluation(path: str | Path) -> Evaluation:
    """The evaluation file at `path`, checked against the evaluation contract."""
    path = Path(path)
    data = _read_json(path, "evaluation file (mlgo eval --output)")
    if not isinstance(data, Mapping):
        raise ReportInputError(f"{path}: an evaluation file holds one JSON object, found {type(data).__name__}")
    missing = [key for key in ("problem", "policy", "modules", "summary") if key not in data]
    if missing:
        raise ReportInputError(
            f"{path}: not an evaluation file (missing {', '.join(missing)}); make one with `mlgo eval --output`"
        )
    if not isinstance(data["modules"], list):
        raise ReportInputError(f'{path}: "modules" must be a list')
    modules = tuple(_module(entry, f"{path}: modules[{index}]") for index, entry in enumerate(data["modules"]))
    linked = data.get("linked")
    runtime = data.get("runtime")
    return Evaluation(
        path=path,
        problem=str(data["problem"]),
        policy=str(data["policy"]),
        corpus=str(data.get("corpus", "")),
        compiler=str(data.get("compiler", "")),
        created=str(data.get("created", "")),
        measurement=str(data.get("measurement", "text_size")),
        modules=modules,
        summary=_summary(data["summary"], str(path)),
        linked=None if linked is None else _linked(linked, str(path)),
        runtime=None if runtime is None else _runtime(runtime, str(path)),
    )


def load_run(path: str | Path) -> RunLog:
    """The training run folder at `path`: its iterations from log.jsonl, and config.json when present."""
    path = Path(path)
    if not path.is_dir():
        raise ReportInputError(f"{path}: no such training run folder (the --output of `mlgo train`)")
    log = path / "log.jsonl"
    if not log.is_file():
        raise ReportInputError(f"{path}: no log.jsonl in this folder; is it the --output of `mlgo train`?")
    try:
        text = log.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ReportInputError(f"{log}: cannot read it: {error}") from None
    lines = text.split("\n")
    iterations = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # the last line has no newline yet: still being written
                break
            raise ReportInputError(f"{log}:{number}: not a JSON line ({error})") from None
        if not isinstance(record, Mapping):
            raise ReportInputError(f"{log}:{number}: each line must be one JSON object")
        iterations.append(record)
    config: Mapping[str, Any] = {}
    if (path / "config.json").is_file():
        loaded = _read_json(path / "config.json", "run configuration")
        config = loaded if isinstance(loaded, Mapping) else {}
    return RunLog(path, tuple(iterations), config)


def load_search(path: str | Path) -> SearchResult:
    """The search result at `path` (modules the search could not finish are left out)."""
    path = Path(path)
    data = _read_json(path, "search file (mlgo search --output)")
    entries = data.get("modules") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise ReportInputError(f'{path}: not a search file (no "modules" list); make one with `mlgo search`')
    modules = {}
    for index, entry in enumerate(entries):
        where = f"{path}: modules[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ReportInputError(f'{where}: a module must be an object with a string "name"')
        if entry.get("ok") is False:
            continue
        modules[entry["name"]] = (
            _number(entry.get("default"), f"{where}: default"),
            _number(entry.get("best"), f"{where}: best"),
        )
    return SearchResult(path, modules, str(data.get("problem", "")), str(data.get("measurement", "")))
