"""Build `mlgo-clang`, the native drop-in compiler: an exported AOT policy answering a stock clang's advisor.

`build_native_driver(aot, spec, problem, clang, destination)` writes a
config header (`mlgo_native_config.h`: the clang and its version, the
problem's advisor options with the channel base as a placeholder, the
policy's features and advice), builds the CMake project in `native/`
(`driver.cc`, linked with the policy's XLA object and the XLA AOT runtime:
the minimal runtime first, then the full one), and installs
`destination/bin/mlgo-clang` and `mlgo-clang++` (the same program; a name
ending in `++` drives clang in g++ mode). The program needs no Python or
TensorFlow at run time; see `native/driver.cc` for what it does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.export.aot import MODEL_ALIAS_HEADER, embedded_model
from compiler_opt.export.cmake_build import RUNTIMES, build_with_xla_runtime
from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.log_format import TensorSpec
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.problems.base import Problem

SOURCE_DIR = Path(__file__).parent / "native"
CONFIG_HEADER = "mlgo_native_config.h"
CHANNEL_PLACEHOLDER = "@MLGO_CHANNEL_BASE@"
BINARY = "mlgo-clang"


@dataclass(frozen=True)
class NativeDriver:
    """An installed native driver: `bin_dir` holds mlgo-clang and mlgo-clang++; the clang it was built for,
    which XLA runtime it linked, and how long the build took."""

    bin_dir: Path
    clang: Path
    runtime: str
    seconds: float


def c_string(text: str) -> str:
    """`text` as a C string literal (UTF-8; quotes, backslashes and non-printable bytes escaped)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F and char != "?":  # "?" escaped too: no trigraphs
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _tensor(spec: TensorSpec) -> str:
    return f"{{{c_string(spec.name)}, {c_string(spec.type)}, {spec.byte_size}}}"


def config_header(spec: FeatureSpec, problem: Problem, clang: Path, clang_version: str) -> str:
    """The text of `mlgo_native_config.h` for a policy of `problem` with `spec`, built for `clang`."""
    if spec.action.type != spec.advice.type:
        raise ExportError(
            f"the native driver answers with the policy's output as the advice; this policy outputs "
            f"{spec.action.type} for a {spec.advice.type} advice"
        )
    options = problem.advisor.options(CHANNEL_PLACEHOLDER)
    lines = [
        "// What this mlgo-clang was built for; written by compiler_opt/export/native_driver.py.",
        "#pragma once",
        "#include <cstddef>",
        "namespace mlgo_config {",
        "struct Tensor { const char *name; const char *type; std::size_t bytes; };",
        f"constexpr const char *kClang = {c_string(str(clang))};",
        f"constexpr const char *kClangVersion = {c_string(clang_version)};",
        f"constexpr const char *kProblem = {c_string(problem.name)};",
        f"constexpr const char *kChannelPlaceholder = {c_string(CHANNEL_PLACEHOLDER)};",
        "constexpr const char *const kAdvisorOptions[] = {"
        + "".join(f"{c_string(o)}, " for o in options)
        + "nullptr};",
        "constexpr Tensor kFeatures[] = {",
        *(f"    {_tensor(feature)}," for feature in spec.features),
        "    {nullptr, nullptr, 0}};",
        f"constexpr Tensor kAdvice = {_tensor(spec.advice)};",
        "constexpr const char *const kExcluded[] = {"
        + "".join(f"{c_string(name)}, " for name in spec.excluded)
        + "nullptr};",
        "}  // namespace mlgo_config",
        "",
    ]
    return "\n".join(lines)


def build_native_driver(
    aot: Path,
    spec: FeatureSpec,
    problem: Problem,
    clang: Path,
    destination: Path,
    *,
    build_dir: Path | None = None,
    runtimes: tuple[str, ...] = RUNTIMES,
) -> NativeDriver:
    """Build mlgo-clang for the AOT policy in `aot` (`mlgo export --aot`'s folder) and install it in
    `destination/bin`; `build_dir` keeps the build tree (a temporary one by default)."""
    embedded_model(problem)  # refuses problems LLVM embeds no model for
    if not (aot / MODEL_ALIAS_HEADER).is_file() or not list(aot.glob("*.o")):
        raise ExportError(
            f"{aot} holds no AOT-compiled policy ({MODEL_ALIAS_HEADER} and its object); run the AOT export"
        )
    toolchain = find_toolchain(clang)
    with tempfile.TemporaryDirectory(prefix="mlgo-native-build-") as scratch:
        root = build_dir if build_dir is not None else Path(scratch)
        config = root / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / CONFIG_HEADER).write_text(config_header(spec, problem, toolchain.clang, toolchain.version_text))
        definitions = {"MLGO_AOT_DIR": str(aot.resolve()), "MLGO_NATIVE_CONFIG": str(config.resolve())}
        build = build_with_xla_runtime(SOURCE_DIR, root, definitions, "the native driver mlgo-clang", runtimes=runtimes)
        bin_dir = _install(build.tree / BINARY, destination / "bin")
        return NativeDriver(bin_dir, toolchain.clang, build.runtime, build.seconds)


def _install(binary: Path, bin_dir: Path) -> Path:
    """Copy `binary` to `bin_dir/mlgo-clang` and link `mlgo-clang++` to it (a copy where links fail)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    target, cxx = bin_dir / BINARY, bin_dir / f"{BINARY}++"
    for path in (target, cxx):
        path.unlink(missing_ok=True)
    shutil.copy2(binary, target)
    try:
        os.link(target, cxx)
    except OSError:
        shutil.copy2(target, cxx)
    return bin_dir
