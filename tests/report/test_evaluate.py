"""Evaluation with the real clang: the JSON's schema and sums, failures recorded, linked sizes, saved policies."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileTask, problem_feature_spec, run_compile_task
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.sampling import sample_modules
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError, link_shared
from compiler_opt.llvm.measure import object_sizes
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpecError
from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms
from compiler_opt.policy.vocab import Vocab
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluated_policy import load_policy
from compiler_opt.report.evaluation_json import format_summary, summarize

INLINING = get_problem("inlining")
MODULE_KEYS = {"name", "language", "default", "policy", "ok", "error", "figures"}
SUMMARY_KEYS = {"modules", "failed", "default_total", "policy_total", "total_ratio", "geomean_ratio"}


@pytest.fixture(scope="module")
def corpus(small_sample):
    full = load_corpus(small_sample)
    return full.subset(
        [spec for spec in full if spec.library in ("lz4", "xxhash", "libyaml") and spec.name != "libyaml/emitter"]
    )


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as pool:
        yield pool


@pytest.fixture
def baselines(toolchain, tmp_path):
    return BaselineCache(tmp_path / "baselines", toolchain, INLINING)


def _fast_policy(spec, seed: int) -> FastPolicy:
    """An untrained numpy actor (seeded random weights) over a vocabulary of a few boundaries per feature."""
    vocab = Vocab({name: np.array([0, 1, 2, 5, 10, 50, 100, 1000]) for name in spec.names})
    config = NetworkConfig(fc_layer_params=(8,))
    width = Preprocessor(feature_transforms(spec, vocab, config.identity)).width
    rng = np.random.default_rng(seed)
    return FastPolicy(
        spec,
        vocab,
        config,
        [(rng.normal(0, 0.5, (width, 8)), rng.normal(0, 0.1, 8)), (rng.normal(0, 0.5, (8, 2)), np.zeros(2))],
    )


def test_json_schema_totals_and_defaults(toolchain, corpus, pool, baselines):
    modules = sample_modules(corpus.modules, 5, seed=1)
    assert modules == sample_modules(corpus.modules, 5, seed=1) and len(modules) == 5
    report = evaluate(corpus, INLINING, "never", toolchain=toolchain, pool=pool, baselines=baselines, modules=modules)
    assert {"problem", "policy", "corpus", "compiler", "created", "measurement", "modules", "summary"} <= set(report)
    assert (report["problem"], report["policy"], report["measurement"]) == ("inlining", "never", "text_size")
    assert "linked" not in report and f"{toolchain.major}." in report["compiler"]
    assert [entry["name"] for entry in report["modules"]] == [spec.name for spec in modules]
    for entry, spec in zip(report["modules"], modules):
        assert set(entry) == MODULE_KEYS and entry["ok"] and entry["error"] is None
        assert entry["language"] == spec.language in ("c", "c++")
        plain = run_compile_task(CompileTask(spec, "inlining", str(toolchain.clang), BASELINE_POLICY, record=False))
        never = run_compile_task(CompileTask(spec, "inlining", str(toolchain.clang), "never", record=False))
        assert entry["default"] == plain.score.value and entry["policy"] == never.score.value
        assert entry["figures"]["decisions"] == never.decisions
    summary = report["summary"]
    assert set(summary) == SUMMARY_KEYS and (summary["modules"], summary["failed"]) == (5, 0)
    assert summary["default_total"] == sum(e["default"] for e in report["modules"])
    assert summary["total_ratio"] == pytest.approx(summary["policy_total"] / summary["default_total"])
    logs = [math.log(e["policy"] / e["default"]) for e in report["modules"]]
    assert summary["geomean_ratio"] == pytest.approx(math.exp(sum(logs) / len(logs)))
    assert summary["total_ratio"] != 1.0
    table = format_summary(report)
    assert f"{summary['total_ratio']:.4f}" in table and "never" in table


def test_a_failing_module_is_recorded_and_the_rest_go_on(toolchain, corpus, pool, baselines, tmp_path):
    broken = tmp_path / "broken.bc"
    broken.write_bytes(b"BC\xc0\xde" + b"\x01not bitcode" * 50)
    good = sample_modules(corpus.modules, 2, seed=0)
    bad = dataclasses.replace(good[0], name="mylib/broken", bitcode=broken, size=broken.stat().st_size)
    with_bad = corpus.subset([*good, bad])
    report = evaluate(with_bad, INLINING, "default", toolchain=toolchain, pool=pool, baselines=baselines)
    entries = {entry["name"]: entry for entry in report["modules"]}
    failed = entries["mylib/broken"]
    assert not failed["ok"] and failed["default"] is None and failed["policy"] is None
    assert "CompilerCrash" in failed["error"] and "mylib/broken" in failed["error"]
    assert all(entries[spec.name]["ok"] for spec in good)
    assert report["summary"]["failed"] == 1 and report["summary"]["modules"] == 3
    assert report["summary"]["default_total"] == sum(entries[spec.name]["default"] for spec in good)
    # the default replayed through the channel is clang's own -Oz object
    assert report["summary"]["total_ratio"] == 1.0
    assert "failed: mylib/broken" in format_summary(report)


@pytest.mark.slow
def test_linked_sizes(toolchain, corpus, pool, baselines, tmp_path):
    modules = [spec for spec in corpus if spec.library in ("lz4", "xxhash")]
    never = evaluate(
        corpus, INLINING, "never", toolchain=toolchain, pool=pool, baselines=baselines, modules=modules, linked=True
    )
    linked = {entry["library"]: entry for entry in never["linked"]}
    assert set(linked) == {"lz4", "xxhash"} and linked["lz4"]["modules"] == 4
    for entry in linked.values():
        assert entry["default"] > 0 and entry["policy"] > 0 and entry["default_text"] >= entry["default"]
        assert entry["ratio"] == pytest.approx(entry["policy"] / entry["default"])
    assert linked["lz4"]["ratio"] != 1.0
    # the default side is exactly the library linked from plain -Oz objects
    objects = []
    for spec in modules:
        if spec.library == "lz4":
            result = run_compile_task(
                CompileTask(spec, "inlining", str(toolchain.clang), BASELINE_POLICY, record=False, keep_object=True)
            )
            objects.append(tmp_path / f"{spec.name.replace('/', '_')}.o")
            objects[-1].write_bytes(result.object)
    library = link_shared(toolchain, objects, tmp_path / "liblz4.so")
    assert object_sizes(toolchain, [library])[0].text_section == linked["lz4"]["default"]
    same = evaluate(
        corpus, INLINING, "default", toolchain=toolchain, pool=pool, baselines=baselines, modules=modules, linked=True
    )
    assert all(entry["ratio"] == 1.0 for entry in same["linked"])
    assert "lz4" in format_summary(same)


def test_linked_needs_libraries(toolchain, corpus, pool, baselines):
    bare = dataclasses.replace(corpus, libraries={})
    with pytest.raises(MlgoError, match="records no libraries"):
        evaluate(bare, INLINING, "never", toolchain=toolchain, pool=pool, baselines=baselines, linked=True)


def test_link_failure_names_the_library(toolchain, tmp_path):
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"not an object")
    with pytest.raises(LinkError, match="library x"):
        link_shared(toolchain, [junk], tmp_path / "x.so", name="library x")


def test_saved_policy_is_evaluated_greedily_and_a_misfit_is_refused(toolchain, corpus, pool, baselines, tmp_path):
    modules = sample_modules(corpus.modules, 3, seed=2)
    spec = problem_feature_spec(toolchain, INLINING, modules[0])
    folder = tmp_path / "policy"
    folder.mkdir()
    _fast_policy(spec, seed=3).save(folder)
    policy = load_policy(INLINING, str(folder))
    first = evaluate(
        corpus,
        INLINING,
        policy,
        toolchain=toolchain,
        pool=pool,
        baselines=baselines,
        policy_label=str(folder),
        modules=modules,
    )
    again = evaluate(
        corpus,
        INLINING,
        load_policy(INLINING, str(folder)),
        toolchain=toolchain,
        pool=pool,
        baselines=baselines,
        modules=modules,
    )
    assert first["policy"] == str(folder) and first["summary"]["failed"] == 0
    assert [e["policy"] for e in first["modules"]] == [e["policy"] for e in again["modules"]]
    misfit = dataclasses.replace(spec, features=spec.features[1:])
    with pytest.raises(FeatureSpecError, match=spec.features[0].name):
        evaluate(
            corpus,
            INLINING,
            _fast_policy(misfit, seed=3),
            toolchain=toolchain,
            pool=pool,
            baselines=baselines,
            modules=modules,
        )
    with pytest.raises(MlgoError, match="neither a built-in policy"):
        load_policy(INLINING, str(tmp_path / "missing"))


def test_a_policy_per_language_answers_each_module_with_its_languages_member(
    toolchain, small_sample, pool, baselines, tmp_path
):
    full = load_corpus(small_sample)
    modules = [
        *sample_modules([spec for spec in full if spec.language == "c"], 2, seed=4),
        *sample_modules([spec for spec in full if spec.language == "c++"], 2, seed=4),
    ]
    spec = problem_feature_spec(toolchain, INLINING, modules[0])
    folder = tmp_path / "policy"
    folder.mkdir()
    _fast_policy(spec, seed=5).save(folder)

    def scores(policy: str) -> dict[str, float]:
        report = evaluate(
            full,
            INLINING,
            load_policy(INLINING, policy),
            toolchain=toolchain,
            pool=pool,
            baselines=baselines,
            modules=modules,
        )
        assert report["summary"]["failed"] == 0
        return {entry["name"]: entry["policy"] for entry in report["modules"]}

    saved, never = scores(str(folder)), scores("never")
    both = f"c=never,c++={folder}"
    per_language = scores(both)
    assert saved != never
    for module in modules:
        expected = never if module.language == "c" else saved
        assert per_language[module.name] == expected[module.name], module.name
    with pytest.raises(MlgoError, match="no member for c modules: add c=POLICY"):
        evaluate(
            full,
            INLINING,
            load_policy(INLINING, "c++=never"),
            toolchain=toolchain,
            pool=pool,
            baselines=baselines,
            modules=modules,
        )
    misfit = dataclasses.replace(spec, features=spec.features[1:])
    (tmp_path / "misfit").mkdir()
    _fast_policy(misfit, seed=5).save(tmp_path / "misfit")
    with pytest.raises(FeatureSpecError, match=spec.features[0].name):
        evaluate(
            full,
            INLINING,
            load_policy(INLINING, f"c=default,*={tmp_path / 'misfit'}"),
            toolchain=toolchain,
            pool=pool,
            baselines=baselines,
            modules=modules,
        )


def test_summary_of_nothing_ok():
    summary = summarize([{"name": "a", "default": None, "policy": None, "ok": False, "error": "x", "figures": {}}])
    assert summary == {
        "modules": 1,
        "failed": 1,
        "default_total": 0.0,
        "policy_total": 0.0,
        "total_ratio": None,
        "geomean_ratio": None,
    }
