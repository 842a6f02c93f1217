"""The Bazel recipes of docs/export.md on brotli's C library (35 files, from the sample corpus) as a cc_library.

Built with Debian's offline `bazel-bootstrap` 4.2.3 (see test_bazel.py) twice: stock clang with the inliner plugin
in `--copt`, then the native driver as the autoconfigured toolchain's compiler (`--repo_env=CC=`). Each object's
code equals `make CC=mlgo-clang` given the code-generating flags Bazel used (read back with `bazel aquery`), and the
policy changed at least one object against plain clang with those flags.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.export.test_bazel import bazel, offline_rules
from tests.export.test_build_recipes import brotli, make, texts

BUILD = """\
cc_library(
    name = "brotli",
    srcs = glob(["src/common/*.c", "src/dec/*.c", "src/enc/*.c", "src/common/*.h", "src/dec/*.h", "src/enc/*.h"]),
    hdrs = glob(["src/include/brotli/*.h"]),
    strip_include_prefix = "src/include",
)
"""
# Bazel's flags that make no code, or name one file: not passed to make.
NOT_CODE = ("-fcolor-diagnostics", "-frandom-seed=", "-fpass-plugin=")

pytestmark = pytest.mark.slow


class Bazel:
    """One Bazel server for `workspace`, its output root under the test's folder."""

    def __init__(self, binary: str, workspace: Path, root: Path) -> None:
        self.command = [binary, f"--output_user_root={root}", "--max_idle_secs=120"]
        self.workspace = workspace
        self.rules = offline_rules(root.parent)

    def __call__(self, *arguments: str) -> str:
        run = subprocess.run(
            [*self.command, *arguments], cwd=self.workspace, capture_output=True, text=True, timeout=900
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stdout

    def build(self, *options: str) -> tuple[dict[str, Path], list[str]]:
        """Build //:brotli: each source's object (src/common/constants.c: its .pic.o) and the compiles' flags."""
        self("build", *self.rules, *options, "//:brotli")
        query = self("aquery", *self.rules, *options, "--output=jsonproto", "mnemonic(CppCompile, //:brotli)")
        objects, flags = {}, set()
        for action in json.loads(query)["actions"]:
            arguments = action["arguments"]
            objects[arguments[arguments.index("-c") + 1]] = self.workspace / arguments[arguments.index("-o") + 1]
            flags.add(tuple(a for a in arguments if a.startswith(("-f", "-O")) and not a.startswith(NOT_CODE)))
        [codegen] = flags
        return objects, list(codegen)


def bazel_texts(toolchain, objects: dict[str, Path], folder: Path) -> dict[str, bytes]:
    """`texts` of Bazel's objects, copied first to obj/<source's path under src/>.o."""
    copies = []
    for source, obj in objects.items():
        copy = folder / "obj" / Path(source).relative_to("src").with_suffix(".o")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copies.append(Path(shutil.copyfile(obj, copy)))
    return texts(toolchain, copies, folder, folder / "text")


def test_bazel_with_the_plugin_and_with_the_driver_builds_makes_code(deployed, toolchain, tmp_path):
    binary = bazel()
    clang = str(toolchain.clang)
    driver = deployed / "native" / "bin" / "mlgo-clang"
    plugin = deployed / "plugin" / "lib" / "libmlgo-inliner.so"
    workspace = brotli(tmp_path / "workspace")
    (workspace / "WORKSPACE").write_text('workspace(name = "brotli")\n')
    (workspace / "BUILD").write_text(BUILD)
    run = Bazel(binary, workspace, tmp_path / "bazel")
    try:
        plugged, flags = run.build(f"--repo_env=CC={clang}", "--copt=-Oz", f"--copt=-fpass-plugin={plugin}")
        with_plugin = bazel_texts(toolchain, plugged, tmp_path / "t-plugin")
        driven, driver_flags = run.build(f"--repo_env=CC={driver}", "--copt=-Oz")
        with_driver = bazel_texts(toolchain, driven, tmp_path / "t-driver")
    finally:
        subprocess.run([*run.command, "shutdown"], cwd=workspace, capture_output=True, timeout=120)

    assert flags == driver_flags and "-Oz" in flags
    cflags = " ".join(flags)
    make_root = brotli(tmp_path / "make")
    with_make = texts(toolchain, make(make_root, str(driver), cflags), make_root, tmp_path / "t-make")
    plain_root = brotli(tmp_path / "plain")
    plain = texts(toolchain, make(plain_root, clang, cflags), plain_root, tmp_path / "t-plain")

    assert len(plain) == 35 and set(with_plugin) == set(with_driver) == set(with_make) == set(plain)
    assert with_plugin == with_driver == with_make
    changed = sorted(name for name in plain if plain[name] != with_make[name])
    assert changed, "the policy decided as clang on every file: the recipes would pass without the policy"
