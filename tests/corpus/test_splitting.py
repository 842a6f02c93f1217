"""Splitting a corpus's modules by name: deterministic, stable as modules are added, independent per salt."""

from __future__ import annotations

import pytest

from compiler_opt.corpus.layout import CorpusError
from compiler_opt.corpus.splitting import in_fraction, split_by_name
from tests.corpus.helpers import fake_corpus


def test_split_is_deterministic_by_name(module_files, tmp_path):
    corpus = fake_corpus(tmp_path, module_files, 400)
    training, validation = corpus.split(0.25)
    assert len(training) + len(validation) == 400 and 60 < len(validation) < 140
    names = {spec.name for spec in validation}
    assert not names & {spec.name for spec in training}
    smaller = corpus.subset(corpus.modules[:200])
    assert {spec.name for spec in smaller.split(0.25)[1]} == {n for n in names if n in {s.name for s in smaller}}
    assert [list(side) for side in (training, validation)] == list(split_by_name(corpus.modules, 0.25))
    with pytest.raises(CorpusError):
        corpus.split(1.5)


def test_salted_splits_are_independent_of_each_other():
    names = [f"lib/m{i}" for i in range(2000)]
    plain = {name for name in names if in_fraction(name, 0.5)}
    salted = {name for name in names if in_fraction(name, 0.5, salt="bc-holdout\0")}
    assert 900 < len(plain) < 1100 and 900 < len(salted) < 1100
    assert 400 < len(plain & salted) < 600  # about half of each side: unrelated draws
    assert not any(in_fraction(name, 0.0) for name in names) and all(in_fraction(name, 1.0) for name in names)
