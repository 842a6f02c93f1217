"""The maintainers' packaging script's records: an evaluation's runtime programs in the provenance (each program's
instruction ratio, or its error: a failed program never shows a figure), and the chain of algorithms behind a
run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from compiler_opt.report.inputs import load_evaluation

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "package_pretrained.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("package_pretrained", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_programs_reach_the_provenance(script, tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(
        json.dumps(
            {
                "problem": "regalloc-eviction",
                "policy": "RUN/policy",
                "compiler": "clang 19",
                "measurement": "regalloc_cost",
                "modules": [{"name": "m", "ok": True, "default": 100.0, "policy": 90.0}],
                "summary": {
                    "modules": 1,
                    "failed": 0,
                    "default_total": 100.0,
                    "policy_total": 90.0,
                    "total_ratio": 0.9,
                    "geomean_ratio": 0.9,
                },
                "runtime": [
                    {
                        "program": "fast",
                        "ok": True,
                        "default": {"instructions": 2000, "seconds": 1.0},
                        "policy": {"instructions": 1990, "seconds": 1.0},
                    },
                    {"program": "broken", "ok": False, "error": "broken: the policy's build printed other output"},
                ],
            }
        )
    )
    record = script.validation_record(load_evaluation(path), [])
    assert record["total_vs_default"] == pytest.approx(0.9)
    assert record["runtime"] == [
        {"program": "fast", "instructions_vs_default": pytest.approx(0.995)},
        {"program": "broken", "error": "broken: the policy's build printed other output"},
    ]


def test_the_algorithm_chain_names_the_policy_bc_cloned(script, tmp_path):
    clone = tmp_path / "bc"
    clone.mkdir()
    teacher = "rule:callee_users=2,margin=45"
    (clone / "config.json").write_text(json.dumps({"algorithm": "bc", "trainer": {"label_policy": teacher}}))
    es = {"algorithm": "es", "warmstart": str(clone / "policy"), "trainer": {"label_policy": "default"}}
    assert script.algorithm_chain(es) == f"bc of {teacher}, then es"
    assert script.algorithm_chain({"algorithm": "bc", "trainer": {"label_policy": "default"}}) == "bc"
    assert (
        script.algorithm_chain({"algorithm": "es", "warmstart": "/gone/policy"})
        == "a policy from /gone/policy, then es"
    )


def test_a_member_of_a_policy_per_language_is_packaged_with_the_languages_it_serves(script, tmp_path):
    policy = tmp_path / "run" / "policy"
    policy.mkdir(parents=True)
    assert script.serving_languages(str(policy), policy) is None
    assert script.serving_languages(f"c=default,c++={policy},other={tmp_path}/run/./policy", policy) == [
        "c++",
        "other",
    ]
    assert script.serving_languages(f"c=default,c++={tmp_path}", policy) == []


def test_a_warm_start_from_a_pretrained_policy_is_named_with_its_algorithm(script, tmp_path):
    package = tmp_path / "inlining-oz"
    (package / "policy").mkdir(parents=True)
    (package / "provenance.json").write_text(json.dumps({"name": "inlining-oz", "algorithm": "bc of rule"}))
    config = {"algorithm": "imitation", "warmstart": str(package / "policy")}
    assert script.algorithm_chain(config) == "pretrained:inlining-oz (bc of rule), then imitation"
