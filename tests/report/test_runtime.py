"""`mlgo eval --runtime`: the sample corpus's programs built under both sides, counted by callgrind and timed; a
hostile program description is refused before anything runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.report.runtime import ProgramError, load_programs

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


def test_the_sample_corpus_lists_its_programs(small_sample):
    programs = {p.name: p for p in load_programs(load_corpus(small_sample))}
    # The small corpus has only brotli's decoder, which does not link into the round trip: not listed.
    assert set(programs) == {"lz4-roundtrip", "xxhash-bench"}
    assert programs["lz4-roundtrip"].library == "lz4"
    assert all(source.is_relative_to(small_sample) and source.is_file() for source in programs["lz4-roundtrip"].sources)


@pytest.mark.parametrize("change, message", [
    ({"link_flags": ["-Wl,-plugin,/tmp/evil.so"]}, "link flags may only be"),
    ({"sources": ["../../etc/passwd"]}, "outside the corpus folder"),
    ({"sources": []}, "at least one driver source"),
    ({"library": "nonesuch"}, "not one of the corpus's libraries"),
])
def test_hostile_or_broken_programs_are_refused(small_sample, change, message):
    corpus = load_corpus(small_sample)
    entry = {**corpus.programs[0], **change}
    with pytest.raises(ProgramError, match=message):
        load_programs(replace(corpus, programs=[entry]))
    with pytest.raises(ProgramError, match="no program nonesuch"):
        load_programs(corpus, ["nonesuch"])


@pytest.mark.slow
def test_eval_runtime_counts_instructions_of_both_builds(small_sample, tmp_path):
    """The CLI end to end: a random eviction policy against the default allocator on xxhash's benchmark."""
    output = tmp_path / "eval.json"
    result = subprocess.run([sys.executable, "-m", "mlgo.cli", "eval", "--problem", "regalloc-eviction",
                             "--policy", "random", "--corpus", str(small_sample), "--output", str(output), "--max-modules", "2",
                             "--runtime", "xxhash-bench", "--runtime-runs", "2", "--workers", "2",
                             "--baselines", str(tmp_path / "baselines")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["summary"]["modules"] == 2
    [entry] = report["runtime"]
    assert entry["program"] == "xxhash-bench" and entry["ok"], entry.get("error")
    for side in ("default", "policy"):
        assert entry[side]["instructions"] > 10_000_000 and entry[side]["seconds"] > 0
    # A random eviction policy allocates differently from the default: the counts differ.
    assert entry["default"]["instructions"] != entry["policy"]["instructions"]


@pytest.mark.parametrize("flags, message", [
    (["--runtime", "nonesuch"], "no program nonesuch; the corpus has: lz4-roundtrip, xxhash-bench"),
    (["--runtime", "--runtime-runs", "0"], "argument --runtime-runs: must be at least 1, got 0"),
])
def test_eval_refuses_bad_runtime_flags_before_compiling(small_sample, tmp_path, flags, message):
    result = subprocess.run([sys.executable, "-m", "mlgo.cli", "eval", "--problem", "regalloc-eviction",
                             "--policy", "random", "--corpus", str(small_sample), "--output",
                             str(tmp_path / "eval.json"), *flags], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "eval.json").exists()
