"""What a newcomer sees: the project's own lines, without TensorFlow's, tf-agents' or gym's start-up notices."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from compiler_opt.tf_runtime import stderr_without
from tests import tiny_runs
from tests.rl.conftest import sub_corpus

# What importing TensorFlow and tf-agents, training, saving and converting a policy print unasked.
NOTICES = re.compile(
    r"cuda|cuDNN|cuBLAS|cuFFT|InitializeLog|computation placer|oneDNN|CPU instructions|Gym|"
    r"XNNPACK|MLIR|^[IWE]\d{4} |\] Ignored|Warning|WARNING",
    re.IGNORECASE | re.MULTILINE,
)


def test_stderr_without_drops_only_the_noise(capfd):
    with stderr_without(re.compile(r"^noise")):
        os.write(2, b"noise from C++\nkept from C++\n")
        print("noise from Python\nkept from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert err.splitlines() == ["kept from C++", "kept from Python"]


def test_stderr_without_writes_back_when_the_block_fails(capfd):
    with pytest.raises(ImportError), stderr_without(re.compile(r"^noise")):
        os.write(2, b"noise\nthe reason\n")
        raise ImportError("no such module")
    assert capfd.readouterr().err == "the reason\n"


def test_importing_tensorflow_through_the_project_is_silent():
    code = (
        "from compiler_opt.tf_runtime import import_tensorflow; tf = import_tensorflow(); "
        "import compiler_opt.rl.ppo, compiler_opt.rl.bc, compiler_opt.es.learner; print(tf.constant(2).numpy())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "2\n" and result.stderr == ""


@pytest.mark.slow
def test_training_and_export_print_no_notices(small_sample, toolchain, tmp_path):
    corpus = sub_corpus(small_sample, tiny_runs.MODULES, tmp_path / "corpus")
    clang, baselines = str(toolchain.clang), tmp_path / "baselines"
    outputs = [
        tiny_runs.train(corpus, tmp_path / algorithm, "inlining", algorithm, clang, baselines)
        for algorithm in ("bc", "ppo")
    ]
    outputs.append(tiny_runs.export(tmp_path / "ppo" / "policy", tmp_path / "export", corpus, clang))
    for result in outputs:
        assert not NOTICES.search(result.stderr), result.stderr
