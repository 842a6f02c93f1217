"""An evaluation's results kept as each compile ends, so that a killed `mlgo eval` resumes where it stopped.

    OUTPUT.partial/results.jsonl   a header line (what is evaluated: problem, policy, corpus, compiler,
                                   modules, options), then one line per module and side as its compile ends
    OUTPUT.partial/objects/        the objects --linked and --runtime link, `default/` and `policy/`

A line is written whole, flushed and fsynced; a torn last line (a kill
mid-write) is dropped with a warning when the evaluation resumes, and its
module is compiled again. Resuming refuses a folder whose header differs
from what is asked (another policy, corpus, compiler or option): its results
would not belong to the evaluation. The caller removes the folder once the
evaluation JSON is written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compiler_opt.errors import MlgoError
from compiler_opt.problems.measurements import Score

__all__ = ["PartialResults", "PartialResultsError", "partial_folder"]

FORMAT_VERSION = 1
RESULTS = "results.jsonl"
SIDES = ("default", "policy")
_LOG = logging.getLogger(__name__)


class PartialResultsError(MlgoError):
    """A partial-results folder that cannot be resumed as asked."""


def partial_folder(output: str | os.PathLike) -> Path:
    """Where the evaluation written to `output` keeps its results while it runs: `OUTPUT.partial` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


def score_to_json(score: Score) -> dict:
    """A score as a results line holds it."""
    return {"value": score.value, "figures": dict(score.figures), "per_function": dict(score.per_function)}


def score_from_json(data: Mapping[str, Any]) -> Score:
    """The score a results line holds."""
    return Score(data["value"], dict(data["figures"]), dict(data["per_function"]))


class PartialResults:
    """The results recorded so far (`recorded[side][module]`: the line's fields) and the writer of new ones."""

    def __init__(self, folder: Path, recorded: dict[str, dict[str, dict]]) -> None:
        self.folder = folder
        self.results = folder / RESULTS
        self.objects = folder / "objects"
        self.recorded = recorded

    @classmethod
    def open(cls, folder: str | os.PathLike, header: Mapping[str, Any], *, resume: bool) -> PartialResults:
        """Start recording in `folder`, or with `resume` go on with what it recorded for the same `header`.

        Without `resume`, a folder that holds results is refused (they are an interrupted evaluation's).
        """
        folder = Path(folder)
        results = folder / RESULTS
        header = {"format": FORMAT_VERSION, **header}
        if results.exists() and not resume:
            raise PartialResultsError(
                f"{folder} holds the results of an interrupted evaluation; pass --resume to "
                "go on with them, or delete that folder to start over"
            )
        recorded = _read(results, header) if results.exists() else None
        if recorded is not None:
            return cls(folder, recorded)
        if resume:
            _LOG.warning("--resume: %s holds no results of an interrupted evaluation; evaluating every module", folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        _append(results, {"header": header})
        return cls(folder, {side: {} for side in SIDES})

    def record(self, side: str, module: str, **fields: Any) -> None:
        """Append the result of `module` under `side` (a `score` and other figures, or an `error`)."""
        line = {"side": side, "module": module, **fields}
        _append(self.results, line)
        self.recorded[side][module] = line


def _append(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as one whole line at the end of `path`, flushed and fsynced."""
    with open(path, "ab") as stream:
        stream.write((json.dumps(data) + "\n").encode())
        stream.flush()
        os.fsync(stream.fileno())


def _read(results: Path, header: Mapping[str, Any]) -> dict[str, dict[str, dict]] | None:
    """The lines of `results` by side and module, after checking its header; a torn last line is cut off.
    None if not even the header was written whole."""
    data = results.read_bytes()
    complete, _, torn = data.rpartition(b"\n")
    if torn:
        _LOG.warning(
            "%s: its last line was torn (the evaluation was killed while writing it); ignoring it, "
            "that module is compiled again",
            results,
        )
        os.truncate(results, len(complete) + 1 if complete else 0)
    lines = []
    for number, text in enumerate(complete.decode(errors="replace").splitlines(), 1):
        try:
            lines.append(json.loads(text))
        except ValueError as error:
            raise PartialResultsError(
                f"{results}: line {number} is not JSON ({error}); delete {results.parent} to start the evaluation over"
            ) from error
    if not lines:
        return None
    if "header" not in lines[0]:
        raise PartialResultsError(f"{results} has no header line; delete {results.parent} to start over")
    _check_header(results.parent, lines[0]["header"], header)
    recorded: dict[str, dict[str, dict]] = {side: {} for side in SIDES}
    for line in lines[1:]:
        recorded[line["side"]][line["module"]] = line
    return recorded


def _check_header(folder: Path, theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> None:
    """Refuse results recorded for another evaluation, naming what differs."""
    differ = [key for key in sorted(set(theirs) | set(ours)) if theirs.get(key) != ours.get(key)]
    if not differ:
        return
    shown = "; ".join(f"{key}: recorded {_short(theirs.get(key))}, asked {_short(ours.get(key))}" for key in differ)
    raise PartialResultsError(
        f"--resume: {folder} holds results of another evaluation ({shown}); resume with the "
        "same policy, corpus, compiler and options, or delete that folder to start over"
    )


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
