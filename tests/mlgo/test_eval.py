"""`mlgo eval` end to end: flags, the JSON file, the printed table, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compiler_opt.corpus import load_corpus



def mlgo(*args, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True,
                          check=check)


@pytest.fixture(scope="module")
def corpus(small_sample):
    return load_corpus(small_sample)


def test_help_explains_every_flag():
    text = mlgo("eval", "--help").stdout
    for flag in ("--problem", "--policy", "--corpus", "--output", "--workers", "--max-modules", "--linked",
                 "--seed", "--baselines", "--backend"):
        assert flag in text


def test_eval_writes_json_and_prints_the_summary(corpus, tmp_path):
    output = tmp_path / "out" / "eval.json"
    result = mlgo("eval", "--problem", "inlining", "--policy", "always", "--corpus", corpus.root, "--output", output,
                  "--max-modules", 4, "--workers", 2, "--seed", 3, "--linked", "--baselines", tmp_path / "b")
    report = json.loads(output.read_text())
    assert report["policy"] == "always" and report["seed"] == 3 and len(report["modules"]) == 4
    assert report["summary"]["failed"] == 0 and report["summary"]["total_ratio"] > 1.0
    # a sample of 4 modules holds part of most libraries: those are listed as skipped, with the reason
    assert report["linked"] and all(entry["ratio"] or "of its" in entry["skipped"] for entry in report["linked"])
    assert f"{report['summary']['total_ratio']:.4f}" in result.stdout
    assert report["linked"][0]["library"] in result.stdout
    again = mlgo("eval", "--problem", "inlining", "--policy", "always", "--corpus", corpus.root, "--output",
                 tmp_path / "again.json", "--max-modules", 4, "--seed", 3, "--baselines", tmp_path / "b")
    assert [m["name"] for m in json.loads((tmp_path / "again.json").read_text())["modules"]] == \
        [m["name"] for m in report["modules"]]
    assert again.returncode == 0


def test_bad_policy_is_a_clear_error(corpus, tmp_path):
    result = mlgo("eval", "--problem", "inlining", "--policy", "smart", "--corpus", corpus.root, "--output",
                  tmp_path / "e.json", check=False)
    assert result.returncode == 2
    assert "smart" in result.stderr and "default, always, never" in result.stderr
    assert "Traceback" not in result.stderr
