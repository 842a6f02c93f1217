"""The corpus loader: LLVM's layout written by hand, validation errors."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from compiler_opt.corpus.loading import CorpusError, load_corpus
from tests.corpus.helpers import write_corpus


def test_hand_written_llvm_layout_loads(module_files, tmp_path):
    write_corpus(tmp_path, module_files, ["zlib/deflate", "zlib/inflate", "app/main"])
    corpus = load_corpus(tmp_path)
    assert [spec.name for spec in corpus] == ["zlib/deflate", "zlib/inflate", "app/main"]
    spec = corpus.module("zlib/inflate")
    assert spec.bitcode == tmp_path / "zlib/inflate.bc" and spec.size == len(module_files[0])
    assert spec.cc1_args[0] == "-cc1" and "-Oz" in spec.cc1_args and spec.thinlto_index is None
    assert "-fembed-bitcode=all" not in spec.cc1_args
    assert spec.library == "zlib"
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_global_command_override_replaces_cmd_files(module_files, tmp_path):
    write_corpus(tmp_path, module_files, ["a"], global_command_override=["-cc1", "-O2"])
    (tmp_path / "a.cmd").unlink()
    assert load_corpus(tmp_path).module("a").cc1_args == ("-cc1", "-O2")


@pytest.mark.parametrize("override", [["<UNSPECIFIED>"], []])
def test_unfilled_override_is_refused(module_files, tmp_path, override):
    write_corpus(tmp_path, module_files, ["a"], global_command_override=override)
    with pytest.raises(CorpusError, match="unfilled placeholder"):
        load_corpus(tmp_path)


def test_thinlto_corpus_needs_index_files(module_files, tmp_path):
    write_corpus(tmp_path, module_files, ["a"])
    description = json.loads((tmp_path / "corpus_description.json").read_text())
    (tmp_path / "corpus_description.json").write_text(json.dumps({**description, "has_thinlto": True}))
    with pytest.raises(CorpusError, match="'a'.*ThinLTO index"):
        load_corpus(tmp_path)
    shutil.copy(tmp_path / "a.bc", tmp_path / "a.thinlto.bc")
    assert load_corpus(tmp_path).module("a").thinlto_index == tmp_path / "a.thinlto.bc"


def _break(root: Path, how: str) -> str:
    if how == "missing bc":
        (root / "bad.bc").unlink()
        return r"'bad'.*missing .*bad\.bc"
    if how == "missing cmd":
        (root / "bad.cmd").unlink()
        return r"'bad'.*missing .*bad\.cmd"
    if how == "not cc1":
        (root / "bad.cmd").write_bytes(b"-O2\0-c")
        return r"'bad'.*does not start with -cc1"
    if how == "hostile cmd":
        (root / "bad.cmd").write_bytes(b"-cc1\0-load\0/tmp/evil.so\0-O2")
        return r"'bad'.*refusing '-load'"
    if how == "corrupt bc":
        (root / "bad.bc").write_bytes(b"\x7fELF this is not bitcode")
        return r"'bad'.*not LLVM bitcode"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing bc", "missing cmd", "not cc1", "hostile cmd", "corrupt bc"])
def test_invalid_module_named_in_error_or_skipped(module_files, tmp_path, how):
    write_corpus(tmp_path, module_files, ["good", "bad", "also_good"])
    pattern = _break(tmp_path, how)
    with pytest.raises(CorpusError, match=pattern):
        load_corpus(tmp_path)
    corpus = load_corpus(tmp_path, skip_invalid=True)
    assert [spec.name for spec in corpus] == ["good", "also_good"]
    assert [name for name, _ in corpus.invalid] == ["bad"]
    assert (tmp_path / "good.bc").is_file() and (tmp_path / "also_good.cmd").is_file()


@pytest.mark.parametrize("name", ["../outside", "/etc/passwd", "a/../../b", "a//b"])
def test_module_names_escaping_the_folder_are_refused(module_files, tmp_path, name):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    write_corpus(corpus_dir, module_files, ["ok"])
    description = json.loads((corpus_dir / "corpus_description.json").read_text())
    description["modules"].append(name)
    (corpus_dir / "corpus_description.json").write_text(json.dumps(description))
    with pytest.raises(CorpusError, match="outside the corpus folder"):
        load_corpus(corpus_dir)
    assert [spec.name for spec in load_corpus(corpus_dir, skip_invalid=True)] == ["ok"]


def test_missing_or_broken_description(tmp_path):
    with pytest.raises(CorpusError, match="no corpus_description.json"):
        load_corpus(tmp_path)
    (tmp_path / "corpus_description.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_corpus(tmp_path)
    (tmp_path / "corpus_description.json").write_text('{"modules": "a"}')
    with pytest.raises(CorpusError, match='"modules" list'):
        load_corpus(tmp_path)
