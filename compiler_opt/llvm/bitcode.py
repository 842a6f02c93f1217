"""Embedded bitcode: make objects that carry their IR, and take the IR back out.

Compiling with `-Xclang -fembed-bitcode=all` leaves the pre-optimization IR in
the object's `.llvmbc` section and the cc1 command line (NUL-separated, starting
with `-cc1`) in `.llvmcmd`. `llvm-objcopy --dump-section` takes both out again.
This module is the only corpus code that runs clang or llvm-objcopy or knows
the bitcode file magic; its tools run through `compiler_opt.llvm.run`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.run import run_captured, stderr_tail
from compiler_opt.llvm.toolchain import Toolchain

BITCODE_SECTION = ".llvmbc"
COMMAND_SECTION = ".llvmcmd"
EMBED_OPTIONS = ("-Xclang", "-fembed-bitcode=all")
_RAW_MAGIC = b"BC\xc0\xde"
_WRAPPER_MAGIC = b"\xde\xc0\x17\x0b"
_STDERR_TAIL = 2000


class BitcodeError(MlgoError):
    """An object or bitcode file that cannot be used; the message names it."""


class NoEmbeddedBitcode(BitcodeError):
    """A readable object without `.llvmbc`/`.llvmcmd` sections (not built with -fembed-bitcode=all)."""


class UnreadableObject(BitcodeError):
    """A file llvm-objcopy cannot read: truncated, corrupt, or not an object."""


class CompileFailed(BitcodeError):
    """clang failed on a source file; carries the tail of its stderr."""


def is_bitcode_file(path: Path) -> bool:
    """Whether `path` starts with an LLVM bitcode magic (raw or wrapped); reads 4 bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head in (_RAW_MAGIC, _WRAPPER_MAGIC)


def dump_embedded(
    toolchain: Toolchain,
    obj: Path,
    bitcode_out: Path | None,
    command_out: Path | None,
    *,
    bitcode_section: str = BITCODE_SECTION,
    command_section: str = COMMAND_SECTION,
) -> None:
    """Write `obj`'s embedded IR to `bitcode_out` and its cc1 command to `command_out`.

    Either output may be None to skip it. Raises `NoEmbeddedBitcode` when a
    section is missing and `UnreadableObject` when the file cannot be read; in
    both cases no partial output is left behind.
    """
    argv = [str(toolchain.tool("llvm-objcopy"))]
    if bitcode_out is not None:
        argv.append(f"--dump-section={bitcode_section}={bitcode_out}")
    if command_out is not None:
        argv.append(f"--dump-section={command_section}={command_out}")
    argv += [str(obj), os.devnull]
    try:
        result = run_captured(argv, timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        raise UnreadableObject(f"{obj}: llvm-objcopy could not run ({error})") from error
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode == 0:
        if bitcode_out is not None and not is_bitcode_file(bitcode_out):
            _remove(bitcode_out, command_out)
            raise UnreadableObject(f"{obj}: its {bitcode_section} section does not hold LLVM bitcode")
        return
    _remove(bitcode_out, command_out)
    message = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    message = re.sub(r"^\S*llvm-objcopy\S*: error: ", "", message)
    if re.search(r"section '[^']*' not found", message):
        raise NoEmbeddedBitcode(f"{obj}: no embedded bitcode ({message}); rebuild it with -Xclang -fembed-bitcode=all")
    raise UnreadableObject(f"{obj}: unreadable object ({message})")


def compile_embedding(
    toolchain: Toolchain,
    source: Path,
    output: Path,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = 600,
) -> None:
    """Compile `source` to the object `output` with `args`, embedding its IR and cc1 command.

    `args` are clang driver arguments (language, standard, -O level, -I, -D).
    Raises `CompileFailed` with the tail of clang's stderr.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(toolchain.clang), *args, *EMBED_OPTIONS, "-c", str(source), "-o", str(output)]
    try:
        result = run_captured(argv, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as error:
        raise CompileFailed(f"{source}: clang timed out after {timeout:.0f} s") from error
    except OSError as error:
        raise CompileFailed(f"{source}: clang could not run ({error})") from error
    if result.returncode != 0:
        output.unlink(missing_ok=True)
        raise CompileFailed(f"{source}: clang failed (exit {result.returncode}):\n{stderr_tail(result, _STDERR_TAIL)}")


def count_inlining_remarks(
    toolchain: Toolchain, cc1_args: Sequence[str], bitcode: Path, *, timeout: float = 600
) -> int:
    """How many call sites the inliner considered compiling `bitcode` (inline remarks, passed + missed).

    A cheap proxy for the number of inlining decisions that needs no channel;
    `cc1_args` must already be sanitized. The object is thrown away.
    """
    argv = [
        str(toolchain.clang),
        *cc1_args,
        "-emit-obj",
        "-Rpass=inline",
        "-Rpass-missed=inline",
        "-x",
        "ir",
        str(bitcode),
        "-o",
        os.devnull,
    ]
    result = run_captured(argv, timeout=timeout)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        raise CompileFailed(f"{bitcode}: clang failed (exit {result.returncode}):\n{stderr_tail(result, _STDERR_TAIL)}")
    return len(re.findall(r"\[-Rpass(?:-missed)?=inline\]", stderr))


def thinlto_backend_args(cc1_args: Sequence[str]) -> list[str]:
    """cc1 arguments for recompiling an already merged ThinLTO module with the corpus's index.

    Drops the build's own `-fthinlto-index=` (the job passes the corpus copy)
    and `-mllvm -lto-embed-bitcode=...`, and adds `-mllvm -thinlto-assume-merged`
    so the backend does not import again into IR that already holds its imports.
    """
    result: list[str] = []
    index = 0
    while index < len(cc1_args):
        arg = cc1_args[index]
        following = cc1_args[index + 1] if index + 1 < len(cc1_args) else ""
        if arg.startswith("-fthinlto-index="):
            index += 1
        elif arg == "-mllvm" and following.startswith("-lto-embed-bitcode"):
            index += 2
        else:
            result.append(arg)
            index += 1
    if "-thinlto-assume-merged" not in result:
        result += ["-mllvm", "-thinlto-assume-merged"]
    return result


def _remove(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            Path(path).unlink(missing_ok=True)
