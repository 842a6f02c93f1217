"""Splitting a corpus: whole libraries per language when it records them, else modules by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compiler_opt.corpus.layout import CorpusError
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.splitting import in_fraction, split_by_library, split_by_name
from tests.corpus.helpers import fake_corpus, write_corpus


def test_a_corpus_without_libraries_splits_by_module_name(module_files, tmp_path):
    corpus = fake_corpus(tmp_path, module_files, 400)
    assert corpus.split_method == "module"
    training, validation = corpus.split(0.25)
    assert len(training) + len(validation) == 400 and 60 < len(validation) < 140
    names = {spec.name for spec in validation}
    assert not names & {spec.name for spec in training}
    smaller = corpus.subset(corpus.modules[:200])
    assert {spec.name for spec in smaller.split(0.25)[1]} == {n for n in names if n in {s.name for s in smaller}}
    assert [list(side) for side in (training, validation)] == list(split_by_name(corpus.modules, 0.25))
    with pytest.raises(CorpusError):
        corpus.split(1.5)
    with pytest.raises(CorpusError, match="no libraries"):
        corpus.split(0.25, "library")


def _mixed_corpus(tmp_path, module_files):
    """12 C libraries of 3-14 modules, 8 C++ libraries of 2-16 modules (C++ by their main file's name)."""
    sizes = {f"c{i}": 3 + i for i in range(12)} | {f"cxx{i}": 2 + 2 * i for i in range(8)}
    libraries = {lib: [f"{lib}/m{j}" for j in range(size)] for lib, size in sizes.items()}
    names = [name for members in libraries.values() for name in members]
    corpus = load_corpus(write_corpus(tmp_path, module_files, names, libraries=libraries))
    specs = []
    for spec in corpus.modules:
        if spec.library.startswith("cxx"):
            args = list(spec.cc1_args)
            args[args.index("-main-file-name") + 1] = "m.cc"
            spec = replace(spec, cc1_args=tuple(args))
        specs.append(spec)
    return corpus.subset(specs)


def test_libraries_stay_whole_and_each_language_is_validated_in_proportion(module_files, tmp_path):
    corpus = _mixed_corpus(tmp_path, module_files)
    assert corpus.split_method == "library"
    training, validation = corpus.split(0.2)
    assert not set(training.libraries) & set(validation.libraries)
    assert {spec.library for spec in validation} == set(validation.libraries)
    for language, lo, hi in (("c", 0.12, 0.28), ("c++", 0.12, 0.28)):
        total = sum(spec.language == language for spec in corpus)
        held = sum(spec.language == language for spec in validation)
        assert lo * total <= held <= hi * total, (language, held, total)
    held_c = [library for library in validation.libraries if not library.startswith("cxx")]
    assert max(len(corpus.libraries[library]) for library in held_c) <= 0.2 * 102 / 2  # several modest ones
    again = _mixed_corpus(tmp_path / "again", module_files).split(0.2)[1]
    assert sorted(again.libraries) == sorted(validation.libraries)  # the same names, the same split
    assert [list(side) for side in (training, validation)] == list(
        split_by_library(corpus.modules, 0.2, corpus.libraries)
    )
    assert len(corpus.split(0.0)[1]) == 0 and len(corpus.split(1.0)[0]) == 0
    by_module = corpus.split(0.2, "module")[1]
    assert {spec.name for spec in by_module} == {spec.name for spec in corpus if in_fraction(spec.name, 0.2)}


def test_a_language_with_two_libraries_gets_one_on_the_validation_side(module_files, tmp_path):
    libraries = {"big": [f"big/m{i}" for i in range(9)], "other": [f"other/m{i}" for i in range(8)]}
    corpus = load_corpus(
        write_corpus(tmp_path, module_files, [*libraries["big"], *libraries["other"]], libraries=libraries)
    )
    training, validation = corpus.split(0.2)  # each library alone is far more than a fifth of the modules
    assert [spec.name for spec in validation] == libraries["other"]  # the one nearest the share
    assert [spec.name for spec in training] == libraries["big"]
    loose = replace(corpus.module("big/m0"), name="loose/a")  # in no library: a library of its own, small enough
    assert split_by_library([*corpus.modules, loose], 0.2, libraries)[1] == [loose]
    one = corpus.subset([spec for spec in corpus if spec.library == "big"])
    assert one.split_method == "module"  # one library cannot be split by library


def test_held_out_libraries_are_always_validated_and_count_in_the_share(module_files, tmp_path):
    corpus = _mixed_corpus(tmp_path, module_files)
    plain = split_by_library(corpus.modules, 0.2, corpus.libraries)[1]
    trained = sorted({spec.library for spec in corpus} - {spec.library for spec in plain})
    held = [trained[0], trained[-1]]  # one C, one C++ library the plain split trains on
    validation = split_by_library(corpus.modules, 0.2, corpus.libraries, held)[1]
    assert set(held) <= {spec.library for spec in validation}
    for language in ("c", "c++"):  # still about a fifth of each language: the held-out ones count in it
        total = sum(spec.language == language for spec in corpus)
        assert 0.12 * total <= sum(spec.language == language for spec in validation) <= 0.35 * total
    assert {spec.library for spec in split_by_library(corpus.modules, 0.0, corpus.libraries, held)[1]} == set(held)
    # A corpus's held-out programs hold their libraries out of training, whatever the fraction.
    entries = [{"name": f"run-{library}", "library": library, "held_out": True} for library in held]
    entries.append({"name": "trained", "library": trained[1], "held_out": False})
    training, validation = replace(corpus, programs=entries).split(0.2)
    assert set(held) <= set(validation.libraries) and not set(held) & set(training.libraries)
    assert list(validation) == split_by_library(corpus.modules, 0.2, corpus.libraries, held)[1]
