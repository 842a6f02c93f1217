"""`mlgo eval --runtime`: the sample corpus's programs built under both sides, counted by callgrind and timed; bad
runtime flags are refused before anything runs (the program descriptions: tests/corpus/test_programs.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


@pytest.mark.slow
def test_eval_runtime_counts_instructions_of_both_builds(small_sample, tmp_path):
    """The CLI end to end: a random eviction policy against the default allocator on xxhash's benchmark."""
    output = tmp_path / "eval.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "eval",
            "--problem",
            "regalloc-eviction",
            "--policy",
            "random",
            "--corpus",
            str(small_sample),
            "--output",
            str(output),
            "--max-modules",
            "2",
            "--runtime",
            "xxhash-bench",
            "--runtime-runs",
            "2",
            "--workers",
            "2",
            "--baselines",
            str(tmp_path / "baselines"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["summary"]["modules"] == 2
    [entry] = report["runtime"]
    assert entry["program"] == "xxhash-bench" and entry["ok"], entry.get("error")
    for side in ("default", "policy"):
        assert entry[side]["instructions"] > 10_000_000 and entry[side]["seconds"] > 0
    # A random eviction policy allocates differently from the default: the counts differ.
    assert entry["default"]["instructions"] != entry["policy"]["instructions"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--runtime", "nonesuch"], "no program nonesuch; the corpus has: lz4-roundtrip, xxhash-bench"),
        (["--runtime", "--runtime-runs", "0"], "argument --runtime-runs: must be at least 1, got 0"),
    ],
)
def test_eval_refuses_bad_runtime_flags_before_compiling(small_sample, tmp_path, flags, message):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "eval",
            "--problem",
            "regalloc-eviction",
            "--policy",
            "random",
            "--corpus",
            str(small_sample),
            "--output",
            str(tmp_path / "eval.json"),
            *flags,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "eval.json").exists()
