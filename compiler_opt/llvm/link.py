"""Link objects into a shared library, as a build ships them, to measure linked code size; or into a program.

Per-object size overstates some inlining gains: a `linkonce_odr` function
inlined into every caller of one object disappears from that object, but a
linker would have kept only one copy across the library anyway. Linking each
library's objects with `-shared -Wl,--gc-sections` (and `-nostdlib`, so no
C runtime or system library is added to the measurement) gives the figure a
user ships. The linker is the `ld.lld` of the same LLVM release, passed to the
clang driver with `--ld-path`, so no system linker is needed.

The runtime benchmarks link executables the same way (`compile_c` for their
drivers, `link_executable` with the C runtime and libm).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.run import run_tool

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain


class LinkError(MlgoError):
    """Objects that did not link; the message names the library and keeps the linker's stderr tail."""


def link_command(toolchain: Toolchain, objects: Sequence[Path], output: Path) -> list[str]:
    """The argv linking `objects` into the shared library `output`, unused sections dropped."""
    return [
        str(toolchain.clang),
        "-shared",
        "-nostdlib",
        f"--ld-path={toolchain.tool('ld.lld')}",
        "-Wl,--gc-sections",
        "-o",
        str(output),
        *map(str, objects),
    ]


def link_shared(
    toolchain: Toolchain, objects: Sequence[Path], output: Path, *, name: str = "", timeout: float = 600.0
) -> Path:
    """Link `objects` into `output` (see the module docstring); raises `LinkError` naming `name`."""
    name = name or str(output)
    if not objects:
        raise LinkError(f"{name}: no objects to link")
    run_tool(
        link_command(toolchain, objects, output), f"{name}: linking {len(objects)} objects", LinkError, timeout=timeout
    )
    return output


def compile_c(toolchain: Toolchain, source: Path, output: Path, *, name: str = "", timeout: float = 600.0) -> Path:
    """Compile one C source to an object at `-O2` (a benchmark driver, the same on both sides of a comparison)."""
    run_tool(
        [str(toolchain.clang), "-O2", "-c", str(source), "-o", str(output)],
        f"{name or source}: compiling {source.name}",
        LinkError,
        timeout=timeout,
    )
    return output


def link_executable(
    toolchain: Toolchain,
    objects: Sequence[Path],
    output: Path,
    flags: Sequence[str] = (),
    *,
    name: str = "",
    timeout: float = 600.0,
) -> Path:
    """Link `objects` into the program `output` with the C runtime, `flags` (libraries) and libm."""
    run_tool(
        [
            str(toolchain.clang),
            f"--ld-path={toolchain.tool('ld.lld')}",
            "-o",
            str(output),
            *map(str, objects),
            *flags,
            "-lm",
        ],
        f"{name or output}: linking {len(objects)} objects",
        LinkError,
        timeout=timeout,
    )
    return output
