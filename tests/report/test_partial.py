"""Partial evaluation results: lines written whole, a torn last line dropped, another evaluation's refused."""

from __future__ import annotations

import logging

import pytest

from compiler_opt.report.partial import PartialResults, PartialResultsError, partial_folder

HEADER = {"problem": "inlining", "policy": "never", "modules": ["a", "b"]}


def test_results_are_kept_and_a_torn_last_line_is_dropped(tmp_path, caplog):
    folder = partial_folder(tmp_path / "eval.json")
    assert folder == tmp_path / "eval.json.partial"
    first = PartialResults.open(folder, HEADER, resume=False)
    first.record("default", "a", score={"value": 10.0, "figures": {}, "per_function": {}})
    first.record("policy", "a", error="CompilerCrash: boom")
    with pytest.raises(PartialResultsError, match="--resume"):
        PartialResults.open(folder, HEADER, resume=False)
    with open(first.results, "a") as stream:
        stream.write('{"side": "policy", "module": "b", "sco')
    with caplog.at_level(logging.WARNING):
        again = PartialResults.open(folder, HEADER, resume=True)
    assert f"{first.results}: its last line was torn" in caplog.text
    assert set(again.recorded["policy"]) == {"a"} and set(again.recorded["default"]) == {"a"}
    again.record("policy", "b", error="CompilerTimeout: slow")  # starts on a line of its own
    assert set(PartialResults.open(folder, HEADER, resume=True).recorded["policy"]) == {"a", "b"}
    with pytest.raises(PartialResultsError, match='policy: recorded "never", asked "always"'):
        PartialResults.open(folder, {**HEADER, "policy": "always"}, resume=True)


def test_a_torn_header_starts_over(tmp_path, caplog):
    folder = tmp_path / "eval.json.partial"
    folder.mkdir()
    (folder / "results.jsonl").write_text('{"header": {"prob')
    with caplog.at_level(logging.WARNING):
        fresh = PartialResults.open(folder, HEADER, resume=True)
    assert fresh.recorded == {"default": {}, "policy": {}} and "torn" in caplog.text
    assert fresh.results.read_text().count("\n") == 1
