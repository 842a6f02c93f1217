"""Build `lib/libmlgo-inliner.so`: an exported inlining policy as a pass plugin for a stock clang.

`build_inliner_plugin(aot, destination, clang=...)` compiles the CMake
project in `plugin/` against the LLVM headers of the given clang (found
through its `llvm-config`, Debian package `llvm-NN-dev`), linking the AOT
model of `aot/` (`llvm::InlinerSizeModel`) and the XLA AOT runtime into one
shared object. `clang -Oz -fpass-plugin=OUT/lib/libmlgo-inliner.so ...` then
inlines as the policy decides, through LLVM's own `MLInlineAdvisor` (the
same features and decisions as `mlgo cc`, no host process). The library
only runs in the LLVM release it was built for; elsewhere it refuses with a
message naming both. Like the check harness it first tries the minimal XLA
runtime and falls back to all of its sources.

Only the inliner has a plugin: LLVM loads no other ML advisor from a plugin.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.export.aot import MODEL_ALIAS_HEADER
from compiler_opt.export.cmake_build import RUNTIMES, build_with_xla_runtime, output_tail, run_text
from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain

SOURCE_DIR = Path(__file__).parent / "plugin"
LIBRARY = "libmlgo-inliner.so"
MODEL_CLASS = "InlinerSizeModel"
SUPPORTED_MAJORS = (19, 22)
_CLASS_PATTERN = re.compile(r"^class\s+(\w+)\s+final\s*:\s*public\s+tensorflow::XlaCompiledCpuFunction", re.MULTILINE)


@dataclass(frozen=True)
class InlinerPlugin:
    """A built plugin: its path, the LLVM release it runs in, which XLA runtime it linked, the build's seconds."""

    path: Path
    llvm_version: str
    runtime: str
    seconds: float


def model_class(aot: Path) -> str:
    """The class the AOT folder's header defines; `ExportError` when the folder holds no exported model."""
    headers = sorted(p for p in aot.glob("*.h") if p.name != MODEL_ALIAS_HEADER) if aot.is_dir() else []
    classes = [match[1] for header in headers for match in _CLASS_PATTERN.finditer(header.read_text(errors="replace"))]
    if not classes:
        raise ExportError(
            f"{aot} holds no header of an AOT-compiled policy; export the inlining policy with `mlgo export --aot`"
        )
    return classes[0]


def check_inliner_model(aot: Path) -> None:
    """Refuse an AOT folder that is not an inlining policy's, or whose model object is missing."""
    found = model_class(aot)
    if found != MODEL_CLASS:
        raise ExportError(
            f"{aot} holds llvm::{found}, not llvm::{MODEL_CLASS}: only inlining policies have a pass plugin "
            "(LLVM loads no other ML advisor from a plugin); use `mlgo cc` or an LLVM build with the model for "
            "this problem"
        )
    if not (aot / f"{MODEL_CLASS}.o").is_file():
        raise ExportError(
            f"{aot} has {MODEL_CLASS}.h but no model object {MODEL_CLASS}.o; export the policy again with --aot"
        )


@dataclass(frozen=True)
class LlvmDev:
    """The `llvm-config` of a clang and what it reports."""

    llvm_config: Path
    version: str
    includedir: Path


def find_llvm_dev(toolchain: Toolchain, llvm_config: Path | None = None) -> LlvmDev:
    """`llvm_config` (default: the one of `toolchain`'s release) with its C++ headers installed, or an
    `ExportError` saying what to install."""
    major = toolchain.major
    package = f"llvm-{major}-dev"
    try:
        llvm_config = llvm_config or toolchain.tool("llvm-config")
    except MlgoError as error:
        raise ExportError(
            f"building the inliner plugin for {toolchain.clang} needs llvm-config-{major} and the LLVM {major} "
            f"headers (Debian: apt-get install -y {package}): {error}"
        ) from error
    version = _ask(llvm_config, "--version")
    includedir = Path(_ask(llvm_config, "--includedir"))
    if re.match(r"\d+\.\d+", version) is None:
        raise ExportError(f"{llvm_config} --version printed {version!r}, not an LLVM version")
    running = ".".join(map(str, toolchain.version[:2]))
    if not version.startswith(running + "."):
        raise ExportError(
            f"{llvm_config} is LLVM {version} but {toolchain.clang} is clang "
            f"{'.'.join(map(str, toolchain.version))}; the plugin must be built for the release that loads it "
            f"(put llvm-config-{major} on PATH)"
        )
    if int(version.split(".")[0]) not in SUPPORTED_MAJORS:
        raise ExportError(
            f"the inliner plugin is written for LLVM {' and '.join(map(str, SUPPORTED_MAJORS))}, not LLVM {version} "
            f"({toolchain.clang}); use `mlgo cc` with this compiler"
        )
    if not (includedir / "llvm" / "Analysis" / "MLInlineAdvisor.h").is_file():
        raise ExportError(
            f"the LLVM {version} C++ headers are not installed ({includedir}/llvm/Analysis/MLInlineAdvisor.h is "
            f"missing); install them (Debian: apt-get install -y {package}) or run scripts/bootstrap.sh"
        )
    return LlvmDev(llvm_config, version, includedir)


def _ask(llvm_config: Path, option: str) -> str:
    result = run_text([str(llvm_config), option], f"{llvm_config} {option}", timeout=60.0)
    if result.returncode != 0:
        raise ExportError(f"{llvm_config} {option} failed (exit status {result.returncode}): {output_tail(result)}")
    return result.stdout.strip()


def build_inliner_plugin(
    aot: Path,
    destination: Path,
    *,
    clang: Path,
    build_dir: Path | None = None,
    runtimes: tuple[str, ...] = RUNTIMES,
    llvm_config: Path | None = None,
    jobs: int | None = None,
) -> InlinerPlugin:
    """Build the plugin for the inlining model in `aot` and `clang`'s LLVM into `destination/lib/`.

    `build_dir` keeps the CMake trees (one per runtime tried; else a
    temporary folder is used). `llvm_config` defaults to the one beside
    `clang` or `llvm-config-NN` on PATH. Raises `ExportError` saying what to do when
    the folder is not an inlining policy's, the LLVM headers are missing,
    the LLVM release is not supported, or the build fails.
    """
    aot = Path(aot).resolve()
    check_inliner_model(aot)
    llvm = find_llvm_dev(find_toolchain(clang), llvm_config)
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="mlgo-plugin-") as tmp:
            return _build(aot, Path(destination), llvm, Path(tmp), runtimes, jobs)
    return _build(aot, Path(destination), llvm, Path(build_dir), runtimes, jobs)


def _build(
    aot: Path, destination: Path, llvm: LlvmDev, build_dir: Path, runtimes: tuple[str, ...], jobs: int | None
) -> InlinerPlugin:
    definitions = {"LLVM_CONFIG": str(llvm.llvm_config), "MLGO_AOT_DIR": str(aot)}
    build = build_with_xla_runtime(
        SOURCE_DIR,
        build_dir,
        definitions,
        "the inliner plugin",
        runtimes=runtimes,
        tree_prefix=f"llvm-{llvm.version}-",
        jobs=jobs,
    )
    target = destination / "lib" / LIBRARY
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(build.tree / LIBRARY, target)
    return InlinerPlugin(target, llvm.version, build.runtime, build.seconds)
