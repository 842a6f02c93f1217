"""`mlgo search` end to end, and the headroom a policy's evaluation reaches."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def mlgo(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, check=True
    )


@pytest.mark.slow
def test_search_writes_json_and_compares_an_evaluation(small_sample, tmp_path):
    common = ("--problem", "inlining", "--corpus", small_sample, "--max-modules", 3, "--seed", 5)
    mlgo("eval", *common, "--policy", "never", "--output", tmp_path / "eval.json", "--baselines", tmp_path / "b")
    result = mlgo(
        "search",
        *common,
        "--output",
        tmp_path / "search.json",
        "--max-flips",
        2,
        "--evaluation",
        tmp_path / "eval.json",
        "--workers",
        2,
    )
    report = json.loads((tmp_path / "search.json").read_text())
    assert report["max_flips"] == 2 and len(report["modules"]) == 3
    assert all(m["ok"] and m["best"] <= m["default"] and m["flips_tried"] <= 2 for m in report["modules"])
    assert "of the found gain" in result.stdout and "never" in result.stdout
    assert "--max-flips" in mlgo("search", "--help").stdout
