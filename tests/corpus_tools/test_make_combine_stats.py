"""`make`, `combine` and `stats` on real modules."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from compiler_opt.corpus.layout import CorpusError, read_description
from compiler_opt.corpus.loading import load_corpus
from corpus_tools.combine import combine_corpora
from corpus_tools.extract import extract, objects_from_compile_commands
from corpus_tools.make_corpus import make_corpus
from corpus_tools.stats import corpus_stats, count_all, count_decisions, count_inline_remarks
from tests.corpus_tools.helpers import recompile, text_size


@pytest.fixture
def extracted(toolchain, project_build, tmp_path):
    _, build = project_build
    root = tmp_path / "corpus"
    extract(
        objects_from_compile_commands(build / "compile_commands.json"),
        root,
        toolchain=toolchain,
        libraries={"geometry": ["CMakeFiles/geometry.dir/src/vec.c", "CMakeFiles/geometry.dir/src/poly.c"]},
    )
    return root


def test_make_from_bitcode_folder(toolchain, tmp_path):
    source = tmp_path / "bitcode"
    (source / "sub").mkdir(parents=True)
    (tmp_path / "a.c").write_text("static int g(int x) { return x + 2; }\nint f(int x) { return g(x) * 3; }\n")
    subprocess.run(
        [str(toolchain.clang), "-Oz", "-c", "-emit-llvm", str(tmp_path / "a.c"), "-o", str(source / "sub/a.bc")],
        check=True,
    )
    (source / "junk.bc").write_bytes(b"definitely not bitcode")
    result = make_corpus(source, tmp_path / "corpus", ["-O2"])
    assert result.modules == ["sub/a"] and [r for _, r in result.skipped] == ["not LLVM bitcode"]
    corpus = load_corpus(tmp_path / "corpus")
    assert corpus.module("sub/a").cc1_args == ("-cc1", "-O2")
    assert text_size(toolchain, recompile(toolchain, corpus.module("sub/a"), tmp_path / "a.o")) > 0


def test_make_refuses_folder_without_bitcode(tmp_path):
    with pytest.raises(CorpusError, match="no LLVM bitcode"):
        make_corpus(tmp_path, tmp_path / "out", [])


def test_combine_prefixes_modules_and_libraries(extracted, tmp_path):
    root = tmp_path / "all"
    shutil.copytree(extracted, root / "one")
    shutil.copytree(extracted, root / "two")
    combined = combine_corpora(root)
    assert len(combined.modules) == 8 and "two/CMakeFiles/shapes.dir/app/main.cpp" in combined.modules
    assert set(combined.libraries) == {"one/geometry", "two/geometry"}
    corpus = load_corpus(root)
    assert len(corpus) == 8 and corpus.libraries["one/geometry"][0].startswith("one/")


def test_combine_refuses_mismatched_settings(extracted, tmp_path):
    root = tmp_path / "all"
    shutil.copytree(extracted, root / "one")
    shutil.copytree(extracted, root / "two")
    path = root / "two/corpus_description.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "global_command_override": ["-cc1", "-O2"]}))
    with pytest.raises(CorpusError, match="one and two.*'global_command_override'"):
        combine_corpora(root)
    assert not (root / "corpus_description.json").exists()
    with pytest.raises(CorpusError, match="no sub-folder"):
        combine_corpora(tmp_path / "all" / "one")


def test_stats_counts_modules_languages_and_inline_sites(toolchain, extracted):
    corpus = load_corpus(extracted)
    stats = corpus_stats(corpus)
    assert stats.modules == 4 and stats.languages == {"c": 2, "c++": 2}
    assert stats.libraries == {"geometry": 2}
    assert stats.bytes == sum(p.stat().st_size for p in extracted.rglob("*.bc"))
    counts = count_all(corpus, lambda spec: count_inline_remarks(spec, toolchain), jobs=2)
    assert counts["CMakeFiles/shapes.dir/app/scene.cpp"] > 10 and counts["CMakeFiles/geometry.dir/src/poly.c"] >= 3
    scene = corpus.module("CMakeFiles/shapes.dir/app/scene.cpp")
    assert 0 < count_decisions(scene, "inlining", toolchain) <= counts[scene.name]
    assert read_description(extracted).libraries == {"geometry": list(corpus.libraries["geometry"])}
