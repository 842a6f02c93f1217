"""The greedy flip search with the real clang: never worse than the default, and its best decisions replay."""

from __future__ import annotations

import pytest

from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileTask, replay_actions, run_compile_task
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.report.search import check_searchable, format_search, headroom_reached, search_corpus, search_module

INLINING = get_problem("inlining")


@pytest.fixture(scope="module")
def corpus(small_sample):
    return load_corpus(small_sample)


def test_search_finds_no_worse_and_its_best_replays(toolchain, corpus):
    clang = str(toolchain.clang)
    module = corpus.module("libyaml/dumper")
    result = search_module(module, "inlining", clang, max_flips=60)
    plain = run_compile_task(CompileTask(module, "inlining", clang, BASELINE_POLICY, record=False))
    assert result.default == plain.score.value
    assert result.best <= result.default
    assert result.exhausted and 0 < result.flips_tried <= 60
    assert result.flips_tried >= result.decisions  # a full pass at least
    replayed = replay_actions(module, "inlining", clang, [int(c) for c in result.best_actions])
    assert replayed.score.value == result.best
    limited = search_module(module, "inlining", clang, max_flips=3)
    assert limited.flips_tried == 3 and not limited.exhausted and limited.best <= limited.default


def test_search_on_the_pool_writes_the_json(toolchain, corpus):
    modules = [
        corpus.module(name) for name in ("brotli/dec/prefix", "libyaml/dumper", "marisa/lib/marisa/grimoire/io/reader")
    ]
    with LocalPool(2) as pool:
        report = search_corpus(corpus, modules, INLINING, toolchain=toolchain, pool=pool, max_flips=12)
    entries = {entry["name"]: entry for entry in report["modules"]}
    assert set(entries) == {spec.name for spec in modules}
    assert all(entry["ok"] and entry["best"] <= entry["default"] for entry in entries.values())
    assert entries["brotli/dec/prefix"]["decisions"] == 0 and entries["brotli/dec/prefix"]["exhausted"]
    assert entries["marisa/lib/marisa/grimoire/io/reader"]["flips_tried"] == 12
    summary = report["summary"]
    assert summary["best_total"] <= summary["default_total"]
    assert summary["total_ratio"] == pytest.approx(summary["best_total"] / summary["default_total"])
    assert "best total" in format_search(report)


def test_search_needs_two_valued_decisions_with_default_replay():
    with pytest.raises(MlgoError, match="regalloc-eviction"):
        check_searchable(get_problem("regalloc-eviction"))
    check_searchable(INLINING)


def test_headroom_reached():
    evaluation = {
        "modules": [
            {"name": "a", "ok": True, "default": 100, "policy": 95},
            {"name": "b", "ok": True, "default": 50, "policy": 50},
            {"name": "c", "ok": False, "default": None, "policy": None},
        ]
    }
    search = {
        "modules": [
            {"name": "a", "ok": True, "default": 100, "best": 90},
            {"name": "b", "ok": True, "default": 50, "best": 50},
            {"name": "c", "ok": True, "default": 10, "best": 5},
        ]
    }
    reached = headroom_reached(evaluation, search)
    assert reached["modules"] == 2 and reached["reached"] == pytest.approx(0.5)
    assert reached["best_ratio"] == pytest.approx(140 / 150) and reached["policy_ratio"] == pytest.approx(145 / 150)
