"""A hostile corpus cannot make clang load code or read files outside the corpus (real clang, real .so).

Each test plants a real shared library whose constructor writes a marker
file: if clang ever loads it, the marker appears. The attacks are the ones a
corpus can mount through its description and its `.cmd` files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compiler_opt.corpus.loading import CorpusError, load_corpus
from tests.corpus.helpers import module_files, write_corpus  # noqa: F401 (fixture)

EVIL_SOURCE = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
  FILE *f = fopen(MARKER, "w");
  if (f) { fputs("loaded\n", f); fclose(f); }
}
"""


def plant_library(folder: Path) -> tuple[Path, Path]:
    """Build `folder`/evil.so, a real shared library that writes `folder`/marker when loaded: (library, marker)."""
    marker = folder / "marker"
    source = folder / "evil.c"
    source.write_text(EVIL_SOURCE)
    library = folder / "evil.so"
    subprocess.run(["cc", "-shared", "-fPIC", f'-DMARKER="{marker}"', str(source), "-o", str(library)], check=True)
    return library, marker


@pytest.fixture()
def evil_library(tmp_path) -> tuple[Path, Path]:
    """(a real shared library that writes a marker when loaded, the marker's path)."""
    return plant_library(tmp_path)


def _compile_all(corpus, toolchain, out: Path) -> list[int]:
    """Compile every module of `corpus` with the argv the compile jobs use; their exit statuses."""
    out.mkdir(exist_ok=True)
    statuses = []
    for index, spec in enumerate(corpus):
        argv = spec.command(toolchain.clang).argv(out / f"{index}.o")
        statuses.append(subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL).returncode)
    return statuses


def test_response_file_in_a_value_slot_is_refused(module_files, toolchain, tmp_path, evil_library):  # noqa: F811
    library, marker = evil_library
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "evil.rsp").write_text(f"-load {library}\n")
    bitcode, args = module_files
    for slot in ("-D", "-I", "-mllvm"):
        write_corpus(root, (bitcode, [*args, slot, "@evil.rsp"]), ["lib/m"])
        with pytest.raises(CorpusError, match="response file"):
            load_corpus(root)
    # The same line with the value slot dropped compiles, and nothing was ever loaded.
    write_corpus(root, module_files, ["lib/m"])
    statuses = _compile_all(load_corpus(root), toolchain, tmp_path / "out")
    assert not marker.exists()
    assert statuses == [0]


def test_module_named_like_an_option_is_compiled_as_a_file(
    module_files,  # noqa: F811 (the fixture imported above)
    toolchain,
    tmp_path,
    monkeypatch,
    evil_library,
):
    """`-fpass-plugin=./evil` as a module name, the corpus given as `.`: clang must not load ./evil.bc."""
    library, marker = evil_library
    root = tmp_path / "corpus"
    root.mkdir()
    write_corpus(root, module_files, ["-fpass-plugin=./evil"])
    (root / "evil.bc").write_bytes(library.read_bytes())  # what clang would load as a pass plugin
    monkeypatch.chdir(root)
    corpus = load_corpus(Path("."))
    statuses = _compile_all(corpus, toolchain, tmp_path / "out")
    assert not marker.exists(), "clang loaded ./evil.bc as a pass plugin"
    assert statuses == [0] and (tmp_path / "out" / "0.o").stat().st_size > 0


def test_links_out_of_the_corpus_are_refused(module_files, tmp_path):  # noqa: F811
    root = tmp_path / "corpus"
    root.mkdir()
    write_corpus(root, module_files, ["lib/a", "lib/b", "lib/c"])
    outside = tmp_path / "outside.bc"
    outside.write_bytes(module_files[0])
    (root / "lib/a.bc").unlink()
    (root / "lib/a.bc").symlink_to(outside)  # a link to a file elsewhere on the machine
    (root / "lib/b.cmd").unlink()
    (root / "lib/b.cmd").symlink_to("/etc/passwd")
    (root / "lib/c.bc").unlink()
    (root / "lib/c.bc").symlink_to(root / "lib/b.bc")  # a link inside the corpus is fine
    corpus = load_corpus(root, skip_invalid=True)
    assert [spec.name for spec in corpus] == ["lib/c"]
    reasons = dict(corpus.invalid)
    assert "outside the corpus folder" in reasons["lib/a"] and str(outside) in reasons["lib/a"]
    assert "outside the corpus folder" in reasons["lib/b"] and "/etc/passwd" in reasons["lib/b"]


def test_a_folder_link_out_of_the_corpus_is_refused(module_files, tmp_path):  # noqa: F811
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_corpus(elsewhere, module_files, ["m"])
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "lib").symlink_to(elsewhere)
    (root / "corpus_description.json").write_text(json.dumps({"modules": ["lib/m"], "has_thinlto": False}))
    with pytest.raises(CorpusError, match="outside the corpus folder"):
        load_corpus(root)
