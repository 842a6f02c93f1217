"""`OUT/aot/`: the policy compiled ahead of time by XLA, ready for an LLVM release build or Bazel.

`saved_model_cli aot_compile_cpu` (from the pinned TensorFlow wheel) turns
the SavedModel's `action` signature into a header and an object defining
the class LLVM instantiates for the problem (`llvm::InlinerSizeModel` for
the inliner), named as LLVM's CMake names them (`InlinerSizeModel.h`,
`InlinerSizeModel.o`). Single-threaded (`--multithreading false`), so the
object needs nothing but the small XLA AOT runtime. The folder also gets

    llvm.cmake     an initial-cache script for LLVM's CMake (`cmake -C OUT/aot/llvm.cmake ...`)
    README.md      how to use it (LLVM, the check harness, Bazel)
    mlgo_model.h   includes the header and names its class `MlgoModel` (the check harness's view)
    BUILD.bazel, WORKSPACE   the folder as a Bazel repository with the cc_library `policy`

The compiler's object for `saved_model_cli`'s separate metadata object is
not kept: LLVM links one object per model, and the check harness links the
same one, so a model that needed more would fail the check, not LLVM's build.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.run import run_captured
from compiler_opt.policy.saved import SIGNATURE
from compiler_opt.policy.untrusted import check_policy_graph
from compiler_opt.problems.base import EmbeddedModel, Problem

MODEL_ALIAS_HEADER = "mlgo_model.h"
CMAKE_SNIPPET = "llvm.cmake"
AOT_TIMEOUT = 900.0


@dataclass(frozen=True)
class AotArtifacts:
    """What `compile_aot` wrote."""

    folder: Path
    header: Path
    object: Path
    cpp_class: str
    target_triple: str
    target_cpu: str
    seconds: float


def host_triple() -> str:
    """The target triple of this machine (Linux), as LLVM writes it."""
    machine = platform.machine()
    vendor = "pc" if machine in ("x86_64", "i686") else "unknown"
    return f"{machine}-{vendor}-linux-gnu"


def tensorflow_path() -> Path:
    """The installed tensorflow package folder (what LLVM's `TENSORFLOW_AOT_PATH` names), found without importing it."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("TensorFlow is not installed in this Python; run scripts/bootstrap.sh")
    return Path(list(spec.submodule_search_locations)[0])


def embedded_model(problem: Problem) -> EmbeddedModel:
    """The problem's embedded-model names, or a clear refusal where LLVM embeds none."""
    if problem.embedded_model is None:
        raise ExportError(
            f"LLVM has no ahead-of-time embedded model for problem {problem.name} (its release mode "
            "only runs the interactive channel); export it without --aot and use `mlgo cc`"
        )
    return problem.embedded_model


def _saved_model_cli() -> list[str]:
    script = Path(sys.executable).with_name("saved_model_cli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def compile_aot(
    saved_model: Path,
    destination: Path,
    problem: Problem,
    *,
    target_triple: str | None = None,
    target_cpu: str = "",
    timeout: float = AOT_TIMEOUT,
) -> AotArtifacts:
    """Compile `saved_model` into `destination` (replaced) and write the notes beside it.

    `target_cpu` (an LLVM CPU name, e.g. "haswell") lets XLA use that CPU's
    instructions; the default, "", is the triple's baseline (what LLVM's own
    build compiles for), which runs on every CPU of the triple.
    """
    model = embedded_model(problem)
    check_policy_graph(saved_model)  # saved_model_cli runs its restore op and compiles its action graph
    triple = target_triple or host_triple()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlgo-aot-") as tmp:
        prefix = Path(tmp) / model.name
        command = [
            *_saved_model_cli(),
            "aot_compile_cpu",
            "--dir",
            str(saved_model),
            "--tag_set",
            "serve",
            "--signature_def_key",
            SIGNATURE,
            "--output_prefix",
            str(prefix),
            "--cpp_class",
            model.cpp_class,
            "--target_triple",
            triple,
            f"--target_cpu={target_cpu}",
            "--multithreading",
            "false",
        ]
        env = {**os.environ, "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        try:
            result = run_captured(command, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as error:
            raise ExportError(f"saved_model_cli aot_compile_cpu ran past {timeout:g} s; killed") from error
        header, obj = prefix.with_suffix(".h"), prefix.with_suffix(".o")
        if result.returncode != 0 or not header.is_file() or not obj.is_file():
            output = (result.stderr or result.stdout).decode("utf-8", "replace")
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ExportError(
                f"saved_model_cli aot_compile_cpu failed (exit status {result.returncode}) for target {triple}:\n{tail}"
            )
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        shutil.copy2(header, destination / header.name)
        shutil.copy2(obj, destination / obj.name)
    seconds = time.monotonic() - started
    artifacts = AotArtifacts(
        destination, destination / header.name, destination / obj.name, model.cpp_class, triple, target_cpu, seconds
    )
    _write_notes(artifacts, model, saved_model)
    return artifacts


def _write_notes(artifacts: AotArtifacts, model: EmbeddedModel, saved_model: Path) -> None:
    folder = artifacts.folder
    upper = model.name.upper()
    (folder / MODEL_ALIAS_HEADER).write_text(
        f"// The exported policy as the check harness sees it (written by mlgo export).\n"
        f'#include "{artifacts.header.name}"\n'
        f"using MlgoModel = {model.cpp_class};\n"
    )
    (folder / CMAKE_SNIPPET).write_text(f"""\
# Build LLVM with this policy embedded (release mode): cmake -C {folder.resolve()}/{CMAKE_SNIPPET} ... llvm
# Written by mlgo export for target {artifacts.target_triple}.
set(TENSORFLOW_AOT_PATH "{tensorflow_path()}" CACHE PATH "TensorFlow wheel with the XLA AOT runtime")
set({model.model_path_option} "{saved_model.resolve()}" CACHE STRING "the policy's SavedModel")
set(LLVM_OVERRIDE_MODEL_HEADER_{upper} "{artifacts.header.resolve()}" CACHE FILEPATH "precompiled policy header")
set(LLVM_OVERRIDE_MODEL_OBJECT_{upper} "{artifacts.object.resolve()}" CACHE FILEPATH "precompiled policy object")
""")
    (folder / "WORKSPACE").write_text('workspace(name = "mlgo_policy")\n')
    (folder / "BUILD.bazel").write_text(f"""\
# The exported policy as a Bazel cc_library (written by mlgo export); see README.md.
cc_library(
    name = "policy",
    srcs = ["{artifacts.object.name}"],
    hdrs = ["{artifacts.header.name}", "{MODEL_ALIAS_HEADER}"],
    includes = ["."],
    deps = ["@xla_aot_runtime//:runtime"],
    visibility = ["//visibility:public"],
)
""")
    (folder / "README.md").write_text(f"""\
# An MLGO policy compiled ahead of time

`{artifacts.header.name}` and `{artifacts.object.name}` define `{model.cpp_class}`, compiled by XLA
(`saved_model_cli aot_compile_cpu`, single-threaded) for `{artifacts.target_triple}`
(CPU: {artifacts.target_cpu or "the triple's baseline"}) from the
SavedModel in `{saved_model}`. The object needs only TensorFlow's small XLA AOT runtime at link
time, and no TensorFlow at run time.

## In an LLVM release build

    cmake -G Ninja -C {folder.resolve()}/{CMAKE_SNIPPET} -DCMAKE_BUILD_TYPE=Release \\
        -DLLVM_ENABLE_PROJECTS=clang path/to/llvm-project/llvm

`{CMAKE_SNIPPET}` sets `TENSORFLOW_AOT_PATH` (which turns LLVM's release-mode ML support on and
builds the runtime from the wheel's `xla_aot_runtime_src`), `{model.model_path_option}` (the
SavedModel), and `LLVM_OVERRIDE_MODEL_HEADER_{upper}` / `LLVM_OVERRIDE_MODEL_OBJECT_{upper}`, which
make LLVM use these files instead of compiling the SavedModel again. Drop the two override lines
and LLVM compiles the SavedModel itself, with the same result. The resulting clang uses the policy
with the advisor in release mode, e.g. `clang -Oz -mllvm -enable-ml-inliner=release` for inlining.

## The check harness

`mlgo export --verify N` builds `compiler_opt/export/cc` (CMake, against the wheel's runtime
sources) with `{MODEL_ALIAS_HEADER}`, which includes the header and names the class `MlgoModel`, and
checks its decisions against the SavedModel, TFLite and numpy forms. By hand:

    cmake -S compiler_opt/export/cc -B build -DTENSORFLOW_AOT_PATH={tensorflow_path()} \\
        -DMLGO_AOT_DIR={folder.resolve()}
    cmake --build build && build/mlgo_aot_check --list

## Bazel

This folder is a Bazel repository whose `//:policy` is a `cc_library` of the model (depending on
`@xla_aot_runtime//:runtime`). The project's own `WORKSPACE` wires both up:

    MLGO_AOT_DIR={folder.resolve()} bazel build //:policy //:aot_check
""")
