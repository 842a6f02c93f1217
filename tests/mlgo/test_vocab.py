"""`mlgo vocab` end to end: bucket files the policy layer loads back."""

from __future__ import annotations

import subprocess
import sys

from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import Vocab


def test_vocab_writes_buckets_and_spec(small_sample, tmp_path):
    output = tmp_path / "vocab"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "vocab",
            "--problem",
            "inlining",
            "--corpus",
            str(small_sample),
            "--output",
            str(output),
            "--max-modules",
            "5",
            "--workers",
            "2",
            "--quantiles",
            "50",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = FeatureSpec.load(output)
    vocab = Vocab.load(output, spec.names)
    assert "inlining_default" not in spec.names
    assert max(len(vocab[name]) for name in spec.names) <= 50
    assert "traced" in result.stdout and "observations" in result.stdout
    assert (
        "--sample-size"
        in subprocess.run(
            [sys.executable, "-m", "mlgo.cli", "vocab", "--help"], capture_output=True, text=True, check=True
        ).stdout
    )
