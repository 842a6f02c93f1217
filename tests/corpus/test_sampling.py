"""Sampling a corpus's modules: seeded, size-stratified, and in name order for the evaluating verbs."""

from __future__ import annotations

from compiler_opt.corpus.sampling import sample_modules, stratified_sample
from tests.corpus.helpers import fake_corpus


def test_sample_is_seeded_and_size_stratified(module_files, tmp_path):
    corpus = fake_corpus(tmp_path, module_files, 200)
    first = corpus.sample(10, seed=3)
    assert first == corpus.sample(10, seed=3) and first != corpus.sample(10, seed=4)
    assert first == stratified_sample(corpus.modules, 10, seed=3)
    assert len({spec.name for spec in first}) == 10
    by_size = sorted(corpus.modules, key=lambda spec: (spec.size, spec.name))
    ranks = sorted(by_size.index(spec) for spec in first)
    assert [rank // 20 for rank in ranks] == list(range(10))
    assert len(corpus.sample(500, seed=1)) == 200 and corpus.sample(0, seed=1) == []


def test_sample_modules_is_all_or_a_sample_in_name_order(module_files, tmp_path):
    corpus = fake_corpus(tmp_path, module_files, 50)
    everything = sample_modules(corpus.modules, None, seed=0)
    assert everything == sorted(corpus.modules, key=lambda spec: spec.name)
    some = sample_modules(corpus.modules, 7, seed=2)
    assert some == sorted(corpus.sample(7, seed=2), key=lambda spec: spec.name)
    assert some == sample_modules(corpus.modules, 7, seed=2) and len(some) == 7
