"""The build recipes of docs/export.md on a real project (brotli's C library, 35 files, from the sample corpus):
make with the native driver as CC, CMake with it as the compiler launcher, and CMake with the inliner plugin in
CMAKE_C_FLAGS. All three put the same code in every object, and the policy's decisions differ from -Oz's."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from compiler_opt.paths import cache_dir
from tests.export.test_dropin import text_section

MAKEFILE = """\
SRC := $(wildcard src/*/*.c)
OBJ := $(patsubst src/%.c,obj/%.o,$(SRC))
CFLAGS ?= -Oz
all: $(OBJ)
obj/%.o: src/%.c
\t@mkdir -p $(dir $@)
\t$(CC) $(CFLAGS) -Isrc/include -c $< -o $@
"""
CMAKELISTS = """\
cmake_minimum_required(VERSION 3.13)
project(brotli C)
file(GLOB_RECURSE sources src/common/*.c src/dec/*.c src/enc/*.c)
add_library(brotli STATIC ${sources})
target_include_directories(brotli PRIVATE src/include)
"""
FOLDERS = ("common", "dec", "enc", "include")

pytestmark = pytest.mark.slow


def brotli(root: Path) -> Path:
    """brotli's C sources under `root/src`, with the Makefile and CMakeLists.txt above."""
    archive = next((cache_dir() / "sample" / "downloads").glob("brotli-*.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) > 3 and parts[1] == "c" and parts[2] in FOLDERS:
                member.name = "/".join(parts[2:])
                tar.extract(member, root / "src", filter="data")
    (root / "Makefile").write_text(MAKEFILE)
    (root / "CMakeLists.txt").write_text(CMAKELISTS)
    return root


def texts(toolchain, objects: list[Path], root: Path, workdir: Path) -> dict[str, bytes]:
    """Each object's .text, keyed by its source's path under src/ without suffixes (common/dictionary)."""
    found = {}
    for obj in objects:
        relative = obj.relative_to(root).as_posix()
        key = relative.split("src/", 1)[-1] if "src/" in relative else relative.split("obj/", 1)[-1]
        key = key.split(".", 1)[0]
        folder = workdir / key.replace("/", "-")
        folder.mkdir(parents=True)
        found[key] = text_section(toolchain, obj, folder)
    return found


def make(root: Path, cc: str, cflags: str = "-Oz") -> list[Path]:
    subprocess.run(["make", "-j2", f"CC={cc}", f"CFLAGS={cflags}"], cwd=root, check=True, capture_output=True)
    return sorted((root / "obj").rglob("*.o"))


def cmake(root: Path, tree: Path, *definitions: str) -> list[Path]:
    subprocess.run(["cmake", "-S", str(root), "-B", str(tree), *definitions], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tree), "--parallel", "2"], check=True, capture_output=True)
    return sorted(tree.rglob("*.c.o"))


def test_make_cmake_launcher_and_plugin_build_the_same_code(deployed, toolchain, tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (scripts/bootstrap.sh installs it)")
    clang = str(toolchain.clang)
    driver = deployed / "native" / "bin" / "mlgo-clang"
    plugin = deployed / "plugin" / "lib" / "libmlgo-inliner.so"

    plain_root = brotli(tmp_path / "plain")
    plain = texts(toolchain, make(plain_root, clang), plain_root, tmp_path / "t-plain")
    make_root = brotli(tmp_path / "make")
    with_make = texts(toolchain, make(make_root, str(driver)), make_root, tmp_path / "t-make")
    cmake_root = brotli(tmp_path / "cmake")
    common = ("-DCMAKE_BUILD_TYPE=", f"-DCMAKE_C_COMPILER={clang}")
    launched = cmake(
        cmake_root, tmp_path / "b-launcher", *common, f"-DCMAKE_C_COMPILER_LAUNCHER={driver}", "-DCMAKE_C_FLAGS=-Oz"
    )
    with_launcher = texts(toolchain, launched, tmp_path / "b-launcher", tmp_path / "t-launcher")
    plugged = cmake(cmake_root, tmp_path / "b-plugin", *common, f"-DCMAKE_C_FLAGS=-Oz -fpass-plugin={plugin}")
    with_plugin = texts(toolchain, plugged, tmp_path / "b-plugin", tmp_path / "t-plugin")

    assert len(plain) == 35 and set(with_make) == set(plain) == set(with_launcher) == set(with_plugin)
    assert with_make == with_launcher == with_plugin
    changed = sorted(name for name in plain if plain[name] != with_make[name])
    assert changed, "the policy decided as -Oz on every file: the recipes would pass without the policy"
