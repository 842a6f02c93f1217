"""`extract` on a real CMake build: every input type, recompiles to the same .text, bad objects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler_opt.corpus.layout import read_description
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from corpus_tools.extract import (
    SKIP_ASSEMBLY,
    SKIP_FILTERED,
    SKIP_NO_SECTIONS,
    SKIP_UNREADABLE,
    extract,
    objects_from_compile_commands,
    objects_from_directory,
    objects_from_params,
)
from tests.corpus_tools.helpers import recompile, text_size

EXPECTED = {
    "CMakeFiles/geometry.dir/src/vec.c",
    "CMakeFiles/geometry.dir/src/poly.c",
    "CMakeFiles/shapes.dir/app/main.cpp",
    "CMakeFiles/shapes.dir/app/scene.cpp",
}


def _check_recompiles(toolchain, corpus_dir: Path, build: Path, tmp_path: Path) -> None:
    corpus = load_corpus(corpus_dir)
    assert {spec.name for spec in corpus} == EXPECTED
    for spec in corpus:
        rebuilt = recompile(toolchain, spec, tmp_path / (spec.name.replace("/", "_") + ".o"))
        original = build / (spec.name + ".o")
        assert text_size(toolchain, rebuilt) == text_size(toolchain, original) > 0, spec.name


def test_compile_commands_recompile_to_same_text(toolchain, project_build, tmp_path):
    _, build = project_build
    objects = objects_from_compile_commands(build / "compile_commands.json")
    result = extract(objects, tmp_path / "corpus", toolchain=toolchain)
    assert set(result.modules) == EXPECTED
    assert [(s.reason, Path(s.object).name) for s in result.skipped] == [(SKIP_ASSEMBLY, "fast.S.o")]
    _check_recompiles(toolchain, tmp_path / "corpus", build, tmp_path)


def test_params_file_recompiles_to_same_text(toolchain, project_build, tmp_path):
    _, build = project_build
    params = build / "link.params"
    objects = sorted(p.relative_to(build).as_posix() for p in build.rglob("*.o"))
    params.write_text("-o\nshapes_again\n" + "\n".join(objects) + "\n-lm\n-lstdc++\n")
    subprocess.run([str(toolchain.clang), f"@{params.name}"], cwd=build, check=True)
    result = extract(objects_from_params(params), tmp_path / "corpus", toolchain=toolchain, jobs=2)
    assert set(result.modules) == EXPECTED
    assert [(s.reason, Path(s.object).name) for s in result.skipped] == [(SKIP_NO_SECTIONS, "fast.S.o")]
    _check_recompiles(toolchain, tmp_path / "corpus", build, tmp_path)


def test_directory_walk_reports_assembly_object(toolchain, project_build, tmp_path):
    _, build = project_build
    result = extract(objects_from_directory(build), tmp_path / "corpus", toolchain=toolchain)
    assert set(result.modules) == EXPECTED
    assert [(s.reason, Path(s.object).name) for s in result.skipped] == [(SKIP_NO_SECTIONS, "fast.S.o")]
    assert "skipped 1 (no embedded sections)" in result.summary()
    _check_recompiles(toolchain, tmp_path / "corpus", build, tmp_path)


def test_cmd_filter_keeps_matching_modules(toolchain, project_build, tmp_path):
    _, build = project_build
    objects = objects_from_compile_commands(build / "compile_commands.json")
    result = extract(objects, tmp_path / "corpus", toolchain=toolchain, cmd_filter=r"\.cpp$")
    assert set(result.modules) == {name for name in EXPECTED if name.endswith(".cpp")}
    assert sum(s.reason == SKIP_FILTERED for s in result.skipped) == 2
    assert not (tmp_path / "corpus" / "CMakeFiles/geometry.dir/src/vec.c.bc").exists()


def test_bad_objects_are_skipped_and_good_ones_kept(toolchain, project_build, tmp_path):
    _, build = project_build
    objects_dir = tmp_path / "objects"
    shutil.copytree(build / "CMakeFiles", objects_dir / "CMakeFiles")
    good = objects_dir / "CMakeFiles/geometry.dir/src/poly.c.o"
    (objects_dir / "truncated.o").write_bytes(good.read_bytes()[:300])
    (objects_dir / "junk.o").write_bytes(b"not an object at all\n")
    result = extract(objects_from_directory(objects_dir), tmp_path / "corpus", toolchain=toolchain)
    assert set(result.modules) == EXPECTED
    reasons = {Path(s.object).name: s.reason for s in result.skipped}
    assert reasons == {"truncated.o": SKIP_UNREADABLE, "junk.o": SKIP_UNREADABLE, "fast.S.o": SKIP_NO_SECTIONS}
    assert not list((tmp_path / "corpus").glob("truncated*")) and not list((tmp_path / "corpus").glob("junk*"))
    assert set(read_description(tmp_path / "corpus").modules) == EXPECTED
    summary = result.summary()
    assert "skipped 2 (unreadable object)" in summary and "extracted 4 modules" in summary


@pytest.fixture(scope="module")
def lto_toolchain(toolchain):
    """The test toolchain if lld of its version is installed, else an older clang that has its lld."""
    candidates = [toolchain] + [f"clang-{major}" for major in range(toolchain.major - 1, 16, -1)]
    for candidate in candidates:
        try:
            chosen = candidate if isinstance(candidate, Toolchain) else find_toolchain(candidate)
            chosen.tool("ld.lld")
            return chosen
        except MlgoError:
            continue
    pytest.skip(f"no ld.lld of the same version as {toolchain.clang} or an older installed clang")


@pytest.fixture(scope="module")
def thinlto_build(lto_toolchain, tmp_path_factory):
    """A local ThinLTO link with lld that keeps the imported modules and their index files."""
    toolchain = lto_toolchain
    root = tmp_path_factory.mktemp("thinlto")
    (root / "lib").mkdir()
    (root / "lib/util.c").write_text(
        "static int twice(int x) { return 2 * x; }\nint util(int x) { return twice(x) + 1; }\n"
    )
    (root / "main.c").write_text("int util(int);\nint main(int argc, char **argv) { return util(argc); }\n")
    for source in ("lib/util.c", "main.c"):
        subprocess.run(
            [str(toolchain.clang), "-Oz", "-flto=thin", "-c", source, "-o", source[:-2] + ".o"], cwd=root, check=True
        )
    (root / "link.params").write_text("lib/util.o\nmain.o\n")
    subprocess.run(
        [
            str(toolchain.clang),
            "-flto=thin",
            f"-fuse-ld={toolchain.tool('ld.lld')}",
            "-Wl,--save-temps=import",
            "-Wl,--thinlto-emit-index-files",
            "lib/util.o",
            "main.o",
            "-o",
            "prog",
        ],
        cwd=root,
        check=True,
    )
    return root


def test_thinlto_local_extracts_index_files(lto_toolchain, thinlto_build, tmp_path):
    toolchain = lto_toolchain
    corpus_dir = tmp_path / "corpus"
    result = extract(
        objects_from_params(thinlto_build / "link.params"), corpus_dir, toolchain=toolchain, thinlto="local"
    )
    assert sorted(result.modules) == ["lib/util", "main"] and not result.skipped
    description = json.loads((corpus_dir / "corpus_description.json").read_text())
    assert description["has_thinlto"] is True
    assert description["global_command_override"] == ["<UNSPECIFIED>"]
    for name in result.modules:
        assert (corpus_dir / f"{name}.bc").read_bytes()[:2] == b"BC"
        assert (corpus_dir / f"{name}.thinlto.bc").is_file()
    with pytest.raises(MlgoError, match="unfilled placeholder"):
        load_corpus(corpus_dir)


def test_thinlto_local_with_command_override_compiles(lto_toolchain, thinlto_build, tmp_path):
    toolchain = lto_toolchain
    corpus_dir = tmp_path / "corpus"
    override = ["-cc1", "-triple", "x86_64-pc-linux-gnu", "-Oz", "-mrelocation-model", "pic", "-pic-level", "2"]
    extract(
        objects_from_params(thinlto_build / "link.params"),
        corpus_dir,
        toolchain=toolchain,
        thinlto="local",
        command_override=override,
    )
    corpus = load_corpus(corpus_dir)
    assert corpus.has_thinlto and all(spec.thinlto_index is not None for spec in corpus)
    for spec in corpus:
        assert text_size(toolchain, recompile(toolchain, spec, tmp_path / f"{spec.name.replace('/', '_')}.o")) > 0


def test_thinlto_distributed_recompiles_to_same_text(lto_toolchain, tmp_path):
    toolchain = lto_toolchain
    clang = str(toolchain.clang)
    (tmp_path / "util.c").write_text(
        "static int twice(int x) { return 2 * x; }\nint util(int x) { return twice(x) + 1; }\n"
    )
    (tmp_path / "main.c").write_text(
        "int util(int);\nint main(int argc, char **argv) { return util(argc) + util(3); }\n"
    )
    for name in ("util", "main"):
        subprocess.run([clang, "-Oz", "-flto=thin", "-c", f"{name}.c", "-o", f"{name}.o"], cwd=tmp_path, check=True)
    subprocess.run(
        [
            clang,
            "-flto=thin",
            f"-fuse-ld={toolchain.tool('ld.lld')}",
            "-Wl,--thinlto-index-only",
            "util.o",
            "main.o",
            "-o",
            "prog",
        ],
        cwd=tmp_path,
        check=True,
    )
    for name in ("util", "main"):
        subprocess.run(
            [
                clang,
                "-Oz",
                "-c",
                "-x",
                "ir",
                f"{name}.o",
                f"-fthinlto-index={name}.o.thinlto.bc",
                "-mllvm",
                "-lto-embed-bitcode=post-merge-pre-opt",
                "-o",
                f"{name}.native.o",
            ],
            cwd=tmp_path,
            check=True,
        )
    (tmp_path / "link.params").write_text("util.native.o\nmain.native.o\n")
    result = extract(
        objects_from_params(tmp_path / "link.params"), tmp_path / "corpus", toolchain=toolchain, thinlto="distributed"
    )
    assert sorted(result.modules) == ["main.native", "util.native"] and not result.skipped
    corpus = load_corpus(tmp_path / "corpus")
    for spec in corpus:
        assert spec.thinlto_index.is_file() and "-thinlto-assume-merged" in spec.cc1_args
        rebuilt = recompile(toolchain, spec, tmp_path / f"{spec.name}.again.o")
        assert text_size(toolchain, rebuilt) == text_size(toolchain, tmp_path / f"{spec.name}.o") > 0


def test_params_file_lists_only_input_objects(tmp_path):
    (tmp_path / "link.params").write_text("-shared -o libx.o\n'sub dir/a.o' b.obj -Wl,--gc-sections c.o.d -lm\n")
    assert [(o.module, o.path.name) for o in objects_from_params(tmp_path / "link.params")] == [
        ("sub dir/a", "a.o"),
        ("b", "b.obj"),
    ]


def test_object_failing_midway_is_skipped_and_others_kept(toolchain, project_build, tmp_path):
    _, build = project_build
    objects_dir = tmp_path / "objects"
    shutil.copytree(build / "CMakeFiles", objects_dir / "CMakeFiles")
    poisoned = objects_dir / "CMakeFiles/geometry.dir/src/vec.c.o"
    (tmp_path / "bad.cmd").write_bytes(b"-cc1\0\xff\xfe not utf-8")
    subprocess.run(
        [str(toolchain.tool("llvm-objcopy")), f"--update-section=.llvmcmd={tmp_path / 'bad.cmd'}", str(poisoned)],
        check=True,
    )
    result = extract(objects_from_directory(objects_dir), tmp_path / "corpus", toolchain=toolchain, cmd_filter="-O")
    assert set(result.modules) == EXPECTED - {"CMakeFiles/geometry.dir/src/vec.c"}
    failed = [s for s in result.skipped if Path(s.object) == poisoned]
    assert len(failed) == 1 and "not a text command line" in failed[0].detail
    assert not (tmp_path / "corpus/CMakeFiles/geometry.dir/src/vec.c.bc").exists()
    assert set(load_corpus(tmp_path / "corpus").libraries) == set()
    assert len(load_corpus(tmp_path / "corpus")) == 3
