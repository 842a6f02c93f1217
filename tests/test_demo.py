"""`mlgo demo` end to end on the small sample corpus: every stage (the hand rule's evaluation beside the policy
too), its outputs, and a resume that redoes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from compiler_opt.demo.options import STAGES
from tests.test_quiet_output import NOTICES


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", "demo", *map(str, args)], capture_output=True, text=True, check=True
    )


@pytest.mark.slow
def test_demo_trains_evaluates_exports_and_reports_then_resumes(small_sample, tmp_path):
    output = tmp_path / "demo"
    args = ("--output", output, "--corpus-size", "small", "--budget-minutes", 3, "--verify", 100)
    first = demo(*args)

    state = json.loads((output / "stages.json").read_text())
    assert list(state["stages"]) == list(STAGES)
    evaluation = json.loads((output / "eval" / "eval.json").read_text())
    summary = evaluation["summary"]
    assert summary["modules"] == state["stages"]["corpus"]["validation"] > 0
    assert state["stages"]["warmstart"]["iterations"] >= 1 and state["stages"]["train"]["iterations"] >= 1
    assert state["stages"]["warmstart"]["algorithm"] == "bc" and state["stages"]["train"]["algorithm"] == "es"
    teacher = json.loads((output / "bc-rule" / "state.json").read_text())["labels"]["teacher"]
    assert teacher == "rule:callee_users=2,margin=45"  # the default warm start clones the hand rule
    selected = state["stages"]["select"]
    shipped = selected["chosen"] is not None
    # A policy ships only if it is smaller than -Oz on the selection sample (else the headline says none does).
    assert shipped == (min(selected["warmstart_total_ratio"], selected["train_total_ratio"]) < 1.0)
    assert (output / "policy" / "saved_model.pb").is_file() == shipped
    if shipped:
        assert (output / "export" / "tflite" / "model.tflite").is_file()
        assert list((output / "export" / "aot").glob("*.h")) and list((output / "export" / "aot").glob("*.o"))
        assert state["stages"]["export"]["verify"]["observations"] >= 100
    else:
        assert "skipped" in state["stages"]["export"] and not (output / "export").exists()
    assert (output / "report" / "report.html").is_file() and (output / "report" / "report.md").is_file()
    # the hand rule on the same validation modules, and the verdict first in the report and above the headline
    rule = json.loads((output / "eval" / "rule.json").read_text())
    assert [m["name"] for m in rule["modules"]] == [m["name"] for m in evaluation["modules"]]
    assert state["stages"]["reference"]["evaluations"] == [str(output / "eval" / "rule.json")]
    verdict = first.stdout.strip().splitlines()[-2]
    assert re.match(rf"\S+ (beats|does NOT beat) the built-in policy {re.escape(rule['policy'])} on the ", verdict)
    assert (output / "report" / "report.md").read_text().startswith(f"## mlgo report\n\n**{verdict}**")

    headline = first.stdout.strip().splitlines()[-1]
    if not shipped:
        assert headline.startswith("no policy ships: the best trained "), headline
    match = re.search(r"(\d+) modules never seen in training: ([\d.]+)% (smaller|larger) than clang -Oz", headline)
    assert match, headline
    assert int(match[1]) == summary["modules"] - summary["failed"]
    change = (1 - summary["total_ratio"]) * 100
    assert float(match[2]) == pytest.approx(abs(change), abs=0.006)
    # Only the project's own lines: no TensorFlow, tf-agents or gym start-up notices.
    assert not NOTICES.search(first.stderr), first.stderr

    again = demo(*args)
    assert all(f"[{stage}] done earlier" in again.stdout for stage in STAGES)
    assert again.stdout.strip().splitlines()[-2:] == [verdict, headline]


@pytest.mark.slow
def test_a_demo_for_cxx_ships_a_policy_per_language_with_c_left_to_the_compiler(small_sample, toolchain, tmp_path):
    if toolchain.major != 19:
        pytest.skip("the pretrained warm start was trained with clang 19; this suite's clang sends other features")
    output = tmp_path / "demo"
    demo(
        *("--output", output, "--corpus", small_sample, "--clang", toolchain.clang, "--budget-minutes", 1),
        *("--warmstart-algorithm", "pretrained", "--algorithm", "imitation", "--languages", "c++"),
        *("--reward-size", "object", "--verify", 50, "--no-aot", "--max-eval-modules", 12),
    )
    state = json.loads((output / "stages.json").read_text())
    assert "warmstart" not in state["stages"] and state["stages"]["train"]["algorithm"] == "imitation"
    config = json.loads((output / "imitation" / "config.json").read_text())
    assert config["trainer"]["languages"] == ["c++"] and config["warmstart"].endswith("inlining-oz/policy")
    evaluation = json.loads((output / "eval" / "eval.json").read_text())
    modules = evaluation["modules"]
    assert {module["language"] for module in modules} == {"c", "c++"}
    assert all(module["policy"] == module["default"] for module in modules if module["language"] == "c")
    if state["stages"]["select"]["chosen"] is None:
        return  # nothing smaller than -Oz on the C++ selection sample: nothing ships, nothing exported
    assert evaluation["policy"] == f"c++={output / 'policy'},*=default"
    exported = state["stages"]["export"]["languages"]
    assert list(exported) == ["c++"] and exported["c++"]["verify"]["observations"] > 0
    manifest = json.loads((output / "export" / "languages.json").read_text())
    assert manifest["languages"]["*"] == {"policy": "default", "folder": None}
    assert (output / "export" / "cxx" / "tflite" / "model.tflite").is_file()
