"""`mlgo export`: the forms LLVM uses, checked against the policy on real compiles with clang-19."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.export.harness import run_harness
from compiler_opt.export.observations import ObservationSet, write_harness_file
from compiler_opt.export.saved_model import ExportError, check_signature
from compiler_opt.llvm.log_format import TensorSpec
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.saved import load_fast_policy
from tests.export.conftest import VERIFY_OBSERVATIONS

MLGO = [sys.executable, "-m", "mlgo.cli"]


def model_arguments(binary: Path) -> list[str]:
    """The names of the compiled model's arguments (`feed_<feature>`), as the harness lists them."""
    listing = subprocess.run([str(binary), "--list"], capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split()[1] for line in listing.splitlines() if line.startswith("arg ")]


def mlgo(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([*MLGO, *args], capture_output=True, text=True, env=env, **kwargs)


@pytest.mark.slow
def test_every_form_decides_as_the_policy_did_on_2000_observations(exported, policy_dir):
    out, result, lines = exported
    report = json.loads((out / "verify" / "report.json").read_text())
    assert report["observations"] == VERIFY_OBSERVATIONS
    assert report["agreed"] == dict.fromkeys(("numpy", "saved_model", "tflite", "aot"), VERIFY_OBSERVATIONS)
    # The policy is not a constant: both decisions occur often, over several real modules.
    assert set(report["decision_counts"]) == {"0", "1"}
    assert min(report["decision_counts"].values()) > VERIFY_OBSERVATIONS // 10
    assert len(report["modules"]) >= 3
    assert report["aot_runtime"] == "minimal"
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["forms"] == ["saved_model", "tflite", "aot"]
    assert manifest["cpp_class"] == "llvm::InlinerSizeModel"
    assert manifest["verify"]["agreed"] == report["agreed"]
    assert any("agree with the compile" in line for line in lines)


@pytest.mark.slow
def test_saved_model_is_what_llvm_cmake_compiles(exported, policy_dir):
    out, _, _ = exported
    saved = out / "saved_model"
    assert {"saved_model.pb", "variables", "output_spec.json"} <= set(os.listdir(saved))
    assert not {"weights.npz", "network.json", "vocab"} & set(os.listdir(saved))
    spec = FeatureSpec.load(policy_dir)
    check_signature(saved, spec)
    assert json.loads((saved / "output_spec.json").read_text())[0]["logging_name"] == "inlining_decision"


@pytest.mark.slow
def test_tflite_tensors_are_named_as_development_mode_binds_them(exported, policy_dir):
    from ai_edge_litert.interpreter import Interpreter

    out, _, _ = exported
    interpreter = Interpreter(model_path=str(out / "tflite" / "model.tflite"))
    inputs = {d["name"] for d in interpreter.get_input_details()}
    spec = FeatureSpec.load(policy_dir)
    assert {f"action_{name}:0" for name in spec.names} | {
        "action_step_type:0",
        "action_reward:0",
        "action_discount:0",
    } == inputs
    output_spec = json.loads((out / "tflite" / "output_spec.json").read_text())
    tensor = output_spec[0]["tensor_spec"]
    assert [d["name"] for d in interpreter.get_output_details()] == [f"{tensor['name']}:{tensor['port']}"]


@pytest.mark.slow
def test_aot_folder_has_llvms_names_and_a_cmake_snippet(exported):
    out, _, _ = exported
    aot = out / "aot"
    header = (aot / "InlinerSizeModel.h").read_text()
    assert "namespace llvm {" in header
    assert "class InlinerSizeModel final : public tensorflow::XlaCompiledCpuFunction" in header
    assert (aot / "InlinerSizeModel.o").stat().st_size > 0
    snippet = (aot / "llvm.cmake").read_text()
    values = dict(line[4:-1].split(" ", 1)[0:2] for line in snippet.splitlines() if line.startswith("set("))
    paths = {name: value.split('"')[1] for name, value in values.items()}
    assert Path(paths["LLVM_OVERRIDE_MODEL_HEADER_INLINERSIZEMODEL"]) == (aot / "InlinerSizeModel.h").resolve()
    assert Path(paths["LLVM_OVERRIDE_MODEL_OBJECT_INLINERSIZEMODEL"]) == (aot / "InlinerSizeModel.o").resolve()
    assert Path(paths["LLVM_INLINER_MODEL_PATH"]) == (out / "saved_model").resolve()
    assert (Path(paths["TENSORFLOW_AOT_PATH"]) / "xla_aot_runtime_src").is_dir()
    assert "llvm.cmake" in (aot / "README.md").read_text()


@pytest.mark.slow
def test_aot_model_prunes_nothing_it_needs_and_matches_the_fast_form_off_the_corpus(exported, policy_dir, tmp_path):
    """Random feature values the corpus never produced: the harness still agrees with numpy everywhere."""
    out, _, _ = exported
    harness = out / "verify" / "mlgo_aot_check"
    fast = load_fast_policy(policy_dir)
    arguments = model_arguments(harness)
    assert arguments and set(arguments) <= {f"feed_{name}" for name in fast.spec.names}
    rng = np.random.default_rng(3)
    count = 3000
    features = {}
    for feature in fast.spec.features:
        # Bucket boundaries and their neighbours, mixed across features as no compile would mix them.
        bounds = fast.vocab[feature.name] if fast.vocab[feature.name].size else np.zeros(1, np.int64)
        values = rng.choice(bounds, size=count) + rng.integers(-1, 2, size=count)
        features[feature.name] = values.astype(feature.dtype)
    expected = np.argmax(fast.logits_batch(features), axis=-1)
    observations = ObservationSet(fast.spec, features, ("random",) * count, tuple(range(count)), expected)
    decisions, _ = run_harness(
        harness, write_harness_file(observations, tmp_path / "random.bin"), fast.spec.advice.dtype
    )
    assert 0.05 < expected.mean() < 0.95
    np.testing.assert_array_equal(decisions, expected)


@pytest.mark.slow
def test_a_form_that_decides_differently_fails_the_export_naming_the_observation(policy_dir, small_sample, tmp_path):
    """A policy folder whose fast form drifted from its SavedModel (last bias negated in weights.npz)."""
    drifted = tmp_path / "drifted"
    shutil.copytree(policy_dir, drifted)
    with np.load(drifted / "weights.npz") as arrays:
        weights = dict(arrays)
    last = max(int(k.split("_")[1]) for k in weights if k.startswith("bias_"))
    weights[f"bias_{last}"] = -weights[f"bias_{last}"]
    np.savez(drifted / "weights.npz", **weights)
    run = mlgo(
        "export",
        "--policy",
        str(drifted),
        "--output",
        str(tmp_path / "out"),
        "--verify",
        "300",
        "--corpus",
        str(small_sample),
    )
    assert run.returncode == 2, run.stderr
    assert "do not decide as the policy did. First difference at observation" in run.stderr
    assert "decisions: compile " in run.stderr and "saved_model " in run.stderr
    assert "do not use them" in run.stderr and not (tmp_path / "out" / "export.json").exists()


def test_a_signature_missing_a_feature_is_refused_naming_it(policy_dir):
    spec = FeatureSpec.load(policy_dir)
    extra = FeatureSpec((*spec.features, TensorSpec("not_a_feature", (1,), "int64_t")), spec.advice, spec.num_actions)
    with pytest.raises(ExportError, match="no input named 'not_a_feature'"):
        check_signature(policy_dir, extra)


def test_bad_requests_get_clear_messages(policy_dir, tmp_path):
    run = mlgo("export", "--policy", str(policy_dir), "--output", str(tmp_path / "a"), "--verify", "10")
    assert run.returncode == 2 and "--verify needs --corpus" in run.stderr
    run = mlgo("export", "--policy", str(tmp_path / "missing"), "--output", str(tmp_path / "b"))
    assert run.returncode == 2 and "missing" in run.stderr
    run = mlgo(
        "export",
        "--policy",
        str(policy_dir),
        "--output",
        str(tmp_path / "c"),
        "--aot",
        "--problem",
        "regalloc-priority",
    )
    assert run.returncode == 2 and "this policy is for problem inlining" in run.stderr
    assert not (tmp_path / "c").exists()


def test_a_policy_per_language_exports_each_saved_member_into_its_languages_folder(policy_dir, tmp_path):
    out = tmp_path / "out"
    run = mlgo("export", "--policy", f"c=default,c++={policy_dir}", "--output", str(out), "--tflite", "--json")
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert results["c"] is None and results["c++"]["forms"] == ["saved_model", "tflite"]
    assert (out / "cxx" / "tflite" / "model.tflite").is_file() and not (out / "c").exists()
    manifest = json.loads((out / "languages.json").read_text())
    assert manifest["languages"] == {
        "c": {"policy": "default", "folder": None},
        "c++": {"policy": str(policy_dir), "folder": "cxx"},
    }
    run = mlgo("export", "--policy", f"c=rule,c++={policy_dir}", "--output", str(tmp_path / "rule"))
    assert run.returncode == 2 and "the c member 'rule'" in run.stderr and "runs in Python only" in run.stderr
    assert not (tmp_path / "rule").exists()


def test_help_explains_every_flag():
    text = mlgo("export", "--help").stdout
    for flag in (
        "--policy",
        "--output",
        "--aot",
        "--tflite",
        "--target-triple",
        "--target-cpu",
        "--verify",
        "--corpus",
        "--clang",
        "--problem",
        "--seed",
        "--json",
    ):
        assert flag in text


@pytest.mark.slow
def test_the_aot_target_triple_is_configurable(policy_dir, small_sample, tmp_path):
    run = mlgo(
        "export",
        "--policy",
        str(policy_dir),
        "--output",
        str(tmp_path / "arm"),
        "--aot",
        "--target-triple",
        "aarch64-unknown-linux-gnu",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["target_triple"] == "aarch64-unknown-linux-gnu"
    header = (tmp_path / "arm" / "aot" / "InlinerSizeModel.o").read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    run = mlgo(
        "export",
        "--policy",
        str(policy_dir),
        "--output",
        str(tmp_path / "arm2"),
        "--aot",
        "--target-triple",
        "aarch64-unknown-linux-gnu",
        "--verify",
        "10",
        "--corpus",
        str(small_sample),
    )
    assert run.returncode == 2 and "needs the host's target triple" in run.stderr


def test_cc_help_explains_every_flag():
    text = mlgo("cc", "--help").stdout
    for flag in ("--policy", "--clang", "--problem", "--cxx", "MLGO_POLICY", "mlgo-clang"):
        assert flag in text
