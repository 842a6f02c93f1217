"""`mlgo eval` end to end: flags, the JSON file, the printed table, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from compiler_opt.corpus.loading import load_corpus


def mlgo(*args, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, check=check
    )


@pytest.fixture(scope="module")
def corpus(small_sample):
    return load_corpus(small_sample)


def test_help_explains_every_flag():
    text = mlgo("eval", "--help").stdout
    for flag in (
        "--problem",
        "--policy",
        "--corpus",
        "--output",
        "--workers",
        "--max-modules",
        "--linked",
        "--seed",
        "--baselines",
        "--backend",
    ):
        assert flag in text


def test_eval_writes_json_and_prints_the_summary(corpus, tmp_path):
    output = tmp_path / "out" / "eval.json"
    result = mlgo(
        "eval",
        "--problem",
        "inlining",
        "--policy",
        "always",
        "--corpus",
        corpus.root,
        "--output",
        output,
        "--max-modules",
        4,
        "--workers",
        2,
        "--seed",
        3,
        "--linked",
        "--baselines",
        tmp_path / "b",
    )
    report = json.loads(output.read_text())
    assert report["policy"] == "always" and report["seed"] == 3 and len(report["modules"]) == 4
    assert report["summary"]["failed"] == 0 and report["summary"]["total_ratio"] > 1.0
    # a sample of 4 modules holds part of most libraries: those are listed as skipped, with the reason
    assert report["linked"] and all(entry["ratio"] or "of its" in entry["skipped"] for entry in report["linked"])
    assert f"{report['summary']['total_ratio']:.4f}" in result.stdout
    assert report["linked"][0]["library"] in result.stdout
    again = mlgo(
        "eval",
        "--problem",
        "inlining",
        "--policy",
        "always",
        "--corpus",
        corpus.root,
        "--output",
        tmp_path / "again.json",
        "--max-modules",
        4,
        "--seed",
        3,
        "--baselines",
        tmp_path / "b",
    )
    assert [m["name"] for m in json.loads((tmp_path / "again.json").read_text())["modules"]] == [
        m["name"] for m in report["modules"]
    ]
    assert again.returncode == 0


def test_the_hand_rule_evaluates_with_its_thresholds_in_its_name(corpus, tmp_path):
    output = tmp_path / "rule.json"
    result = mlgo(
        "eval", "--problem", "inlining", "--policy", "rule:margin=60", "--corpus", corpus.root, "--output", output,
        "--max-modules", 3, "--baselines", tmp_path / "b",
    )  # fmt: skip
    report = json.loads(output.read_text())
    assert report["policy"] == "rule:callee_users=2,margin=60" and report["summary"]["failed"] == 0
    assert "rule:callee_users=2,margin=60" in result.stdout
    refused = mlgo(
        "eval", "--problem", "inlining", "--policy", "rule:depth=1", "--corpus", corpus.root, "-o", tmp_path / "x.json",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "cannot set 'depth'" in refused.stderr


def test_bad_policy_is_a_clear_error(corpus, tmp_path):
    result = mlgo(
        "eval",
        "--problem",
        "inlining",
        "--policy",
        "smart",
        "--corpus",
        corpus.root,
        "--output",
        tmp_path / "e.json",
        check=False,
    )
    assert result.returncode == 2
    assert "smart" in result.stderr and "default, always, never" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_output_is_refused_before_any_compile(corpus, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for output, says in ((tmp_path, "is a folder"), (blocker / "eval.json", "cannot write in")):
        result = mlgo(
            "eval",
            "--problem",
            "inlining",
            "--policy",
            "never",
            "--corpus",
            corpus.root,
            "--output",
            output,
            "--max-modules",
            2,
            "--baselines",
            tmp_path / "b",
            check=False,
        )
        assert result.returncode == 2 and says in result.stderr and "--output" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "b").exists()  # no compile ran: no baseline was computed


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_killed_eval_resumes_compiling_only_the_missing_modules(corpus, tmp_path):
    """SIGKILL halfway, then --resume: the recorded modules keep their figures (their compile seconds too, so they
    were not compiled again), a torn last line is dropped with a warning, and the JSON is a one-shot run's."""

    def arguments(policy: str = "always") -> list:
        return [
            "eval",
            "--problem",
            "inlining",
            "--policy",
            policy,
            "--corpus",
            corpus.root,
            "--max-modules",
            8,
            "--seed",
            4,
            "--workers",
            1,
            "--baselines",
            tmp_path / "b",
        ]

    args = arguments()
    mlgo(*args, "--output", tmp_path / "once.json")
    once = json.loads((tmp_path / "once.json").read_text())
    assert not (tmp_path / "once.json.partial").exists()
    output = tmp_path / "killed.json"
    results = tmp_path / "killed.json.partial" / "results.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgo.cli", *map(str, args), "--output", output],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and sum(line.get("side") == "policy" for line in _lines(results)) >= 2:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    recorded = [line for line in _lines(results) if line.get("side") == "policy"]
    assert 2 <= len(recorded) < 8 and not output.exists()
    refused = mlgo(*args, "--output", output, check=False)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    other = mlgo(*args, "--timeout", 5, "--output", output, "--resume", check=False)
    assert other.returncode == 2 and "timeout: recorded 600.0, asked 5.0" in other.stderr
    assert "Traceback" not in other.stderr
    never = mlgo(*arguments("never"), "--output", output, "--resume", check=False)
    assert never.returncode == 2 and 'policy: recorded "always", asked "never"' in never.stderr
    with open(results, "a") as stream:
        stream.write('{"side": "policy", "module": "torn')  # as if killed mid-write
    resumed = mlgo(*args, "--output", output, "--resume")
    assert "last line was torn" in resumed.stderr and str(results) in resumed.stderr
    assert (
        f"reusing the results of {len(recorded)} of 8 modules under the policy and 8 under the default"
        in resumed.stderr
    )
    again = json.loads(output.read_text())
    assert not results.parent.exists()
    assert again["summary"] == once["summary"]
    for mine, theirs in zip(again["modules"], once["modules"], strict=True):
        assert {**mine, "figures": {**mine["figures"], "seconds": 0}} == {
            **theirs,
            "figures": {**theirs["figures"], "seconds": 0},
        }
    kept = {line["module"]: line["seconds"] for line in recorded}
    assert all(
        round(sum(kept[m["name"]].values()), 4) == m["figures"]["seconds"]
        for m in again["modules"]
        if m["name"] in kept
    )
