"""A run stores how it split its corpus; a resumed run keeps that split, and runs from before it keep theirs;
a run for some languages trains on theirs only."""

from __future__ import annotations

import json
from dataclasses import replace

import gin
import pytest

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.splitting import split_by_name
from compiler_opt.errors import MlgoError
from compiler_opt.pool.local import LocalPool
from compiler_opt.train import TrainOptions
from compiler_opt.training.config import TrainerConfig
from compiler_opt.training.setup import open_run, prepare_policy


def _no_gin(files, bindings, text):
    return ""


def test_a_new_run_splits_by_library_and_an_old_run_resumes_by_module(small_sample, tmp_path):
    options = TrainOptions("inlining", "es", small_sample, tmp_path / "run", baseline_cache=tmp_path / "baselines")
    with LocalPool(1) as pool:
        run = open_run(options, pool, _no_gin)
        assert run.split_method == "library"
        assert run.validation.libraries and not set(run.validation.libraries) & set(run.training.libraries)
        prepare_policy(run, None)  # writes config.json
        config_file = tmp_path / "run" / "config.json"
        config = json.loads(config_file.read_text())
        assert config["split"] == "library"
        resumed = open_run(replace(options, resume=True), pool, _no_gin)
        assert resumed.validation.modules == run.validation.modules

        del config["split"]  # a run started before libraries were split whole
        config_file.write_text(json.dumps(config))
        old = open_run(replace(options, resume=True), pool, _no_gin)
    assert old.split_method == "module"
    by_name = split_by_name(load_corpus(small_sample).modules, 0.2)[1]
    assert list(old.validation.modules) == by_name != list(run.validation.modules)


def test_a_run_for_some_languages_trains_on_theirs_and_validates_on_the_same_libraries(small_sample, tmp_path):
    def cxx_only(files, bindings, text):
        gin.parse_config("train.trainer_config.languages = ('c++',)")
        return ""

    options = TrainOptions("inlining", "es", small_sample, tmp_path / "all", baseline_cache=tmp_path / "baselines")
    try:
        with LocalPool(1) as pool:
            everything = open_run(options, pool, _no_gin)
            cxx = open_run(replace(options, output=tmp_path / "cxx"), pool, cxx_only)
    finally:
        gin.clear_config()
    assert cxx.config.languages == ("c++",)
    assert list(cxx.training.modules) == [spec for spec in everything.training if spec.language == "c++"]
    assert len(cxx.training) and cxx.validation.modules == everything.validation.modules
    with pytest.raises(MlgoError, match="'rust' is not a language; use 'c', 'c\\+\\+', 'other'"):
        TrainerConfig(languages=("rust",))
