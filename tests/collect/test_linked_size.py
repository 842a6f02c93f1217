"""Linked size as a module's value, with the real clang and lld on the small sample's libraries."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import re
import subprocess
from pathlib import Path

import pytest

from compiler_opt.collect.compile_job import BASELINE_POLICY, CompileTask, run_compile_task
from compiler_opt.collect.linked_size import LinkedBaselines
from compiler_opt.collect.scoring import ObjectScorer, scorer_source
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.pool.base import Job
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem

INLINING = get_problem("inlining")
LIBRARY = "double-conversion"  # C++: the rule's per-object gains there are partly linkonce_odr copies


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def small_corpus(small_sample):
    return load_corpus(small_sample)


@pytest.fixture(scope="module")
def members(small_corpus):
    return [small_corpus.module(name) for name in small_corpus.libraries[LIBRARY]]


@pytest.fixture(scope="module")
def source(small_corpus, toolchain, tmp_path_factory):
    return scorer_source(
        "linked", "inlining", corpus=small_corpus, toolchain=toolchain, baselines=tmp_path_factory.mktemp("baselines")
    )


@pytest.fixture(scope="module")
def scorer(source, members, pool):
    return source.scorer(members, pool)


def compiled(toolchain, module, policy):
    """`module` compiled under the built-in `policy`, its object kept."""
    task = CompileTask(module, "inlining", str(toolchain.clang), policy, explore=False, record=False, keep_object=True)
    return run_compile_task(task)


def linked_text(toolchain, objects: list[Path], output: Path) -> int:
    """`.text` bytes of `objects` linked as a shared library with gc-sections, by hand (clang, lld, llvm-size)."""
    subprocess.run(
        [
            str(toolchain.clang),
            "-shared",
            "-nostdlib",
            f"--ld-path={toolchain.tool('ld.lld')}",
            "-Wl,--gc-sections",
            "-o",
            str(output),
            *map(str, objects),
        ],
        check=True,
    )
    table = subprocess.run(
        [str(toolchain.tool("llvm-size")), "-A", str(output)], capture_output=True, text=True, check=True
    ).stdout
    return sum(int(m[1]) for m in re.finditer(r"^\.text\S*\s+(\d+)", table, flags=re.MULTILINE))


def test_the_baseline_object_is_worth_its_object_value(toolchain, scorer, members):
    assert scorer.name == "linked" and scorer.needs_object
    for module in members:
        plain = compiled(toolchain, module, BASELINE_POLICY)
        replayed = compiled(toolchain, module, "default")  # clang's decisions through the channel: the same object
        for result in (plain, replayed):
            assert scorer.value(module.name, result.score, result.object) == result.score.value
        assert scorer.value(module.name, plain.score, None) == plain.score.value
        # Linking the -Oz object again (no shortcut) gives the cached -Oz link exactly.
        assert scorer.linked_text(module.name, plain.object) == scorer.libraries[LIBRARY].text_section


def test_a_candidate_moves_the_value_by_exactly_its_linked_difference(toolchain, scorer, members, tmp_path):
    plain = {m.name: tmp_path / f"{i}.o" for i, m in enumerate(members)}
    for module in members:
        subprocess.run(module.command(toolchain.clang).argv(plain[module.name]), check=True)
    base_text = linked_text(toolchain, list(plain.values()), tmp_path / "oz.so")
    differs = 0
    for module in members:
        candidate = compiled(toolchain, module, "rule")
        (tmp_path / "candidate.o").write_bytes(candidate.object)
        objects = [tmp_path / "candidate.o" if name == module.name else path for name, path in plain.items()]
        text = linked_text(toolchain, objects, tmp_path / "candidate.so")
        base_value = compiled(toolchain, module, BASELINE_POLICY).score.value
        value = scorer.value(module.name, candidate.score, candidate.object)
        assert value == base_value + (text - base_text)
        differs += value != candidate.score.value
    assert differs  # somewhere the linked value is not the per-object one: the measure matters


def test_the_cache_is_reused_and_a_changed_compiler_recomputes(toolchain, small_corpus, members, pool, tmp_path):
    def counts(chain):
        source = LinkedBaselines(tmp_path / "linked", chain, INLINING, small_corpus)
        scorer = source.scorer(members, pool)
        return source.counts, scorer

    first, scorer = counts(toolchain)
    assert first == {"objects_computed": len(members), "objects_reused": 0, "links_computed": 1, "links_reused": 0}
    again, reused = counts(toolchain)
    assert again == {"objects_computed": 0, "objects_reused": len(members), "links_computed": 0, "links_reused": 1}
    assert reused == scorer
    rebuilt = dataclasses.replace(toolchain, version_text=toolchain.version_text + " (rebuilt)")
    assert rebuilt.identity != toolchain.identity
    other, _ = counts(rebuilt)
    assert other == {"objects_computed": len(members), "objects_reused": 0, "links_computed": 1, "links_reused": 0}
    # A damaged object is not trusted: it is compiled again.
    path = scorer.libraries[LIBRARY].objects[0]
    path.write_bytes(path.read_bytes()[:100])
    damaged, repaired = counts(toolchain)
    assert damaged["objects_computed"] == 1 and repaired == scorer


def test_the_scorer_pickles_and_values_in_a_pool_worker(toolchain, scorer, members, pool):
    assert pickle.loads(pickle.dumps(scorer)) == scorer
    results = {m.name: compiled(toolchain, m, "rule") for m in members}
    jobs = [Job(name, scorer.value, (name, r.score, r.object)) for name, r in results.items()]
    in_workers = {result.key: result.unwrap() for result in pool.run(jobs)}
    assert in_workers == {name: scorer.value(name, r.score, r.object) for name, r in results.items()}


def test_modules_that_cannot_be_linked_are_valued_per_object_with_one_warning(
    toolchain, small_corpus, pool, tmp_path, caplog
):
    brotli = small_corpus.libraries["brotli"]
    corpus = dataclasses.replace(
        small_corpus,
        libraries={
            "clash": ("xxhash/xxhash", "lz4/xxhash"),  # both define XXH32: the link fails
            "brotli": (*brotli, "brotli/dec/not-in-corpus"),
        },
    )
    names = ["xxhash/xxhash", "lz4/lz4", "brotli/dec/huffman"]
    modules = [small_corpus.module(name) for name in names]
    source = LinkedBaselines(tmp_path / "linked", toolchain, INLINING, corpus)
    with caplog.at_level(logging.WARNING, logger="compiler_opt.collect.linked_size"):
        scorer = source.scorer(modules, pool)
        again = source.scorer(modules, pool)
    assert not scorer.libraries and again == scorer
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3
    assert any("lz4/lz4" in w and "no library" in w for w in warnings)
    assert any("library clash" in w and "link failed" in w and "duplicate symbol" in w for w in warnings)
    assert any("library brotli" in w and "not in the corpus" in w for w in warnings)
    for module in modules:
        result = compiled(toolchain, module, "rule")
        assert scorer.value(module.name, result.score, result.object) == result.score.value


def test_the_object_scorer_and_the_sources():
    score = get_problem("inlining").measurement
    assert score.unit == "bytes"
    obj = scorer_source("object", "inlining")
    assert isinstance(obj, ObjectScorer) and not obj.needs_object and obj.scorer([], None) is obj
    from compiler_opt.problems.measurements import Score

    assert obj.value("m", Score(123.0, {"text": 123.0}), None) == 123.0
    with pytest.raises(MlgoError, match="not one of"):
        scorer_source("shipped", "inlining")
    with pytest.raises(MlgoError, match="needs the corpus"):
        scorer_source("linked", "inlining")


def test_linked_size_refuses_a_problem_that_measures_no_bytes(toolchain, small_corpus, tmp_path):
    with pytest.raises(MlgoError, match="use reward size 'object'"):
        LinkedBaselines(tmp_path, toolchain, get_problem("regalloc-priority"), small_corpus)
