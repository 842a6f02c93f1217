"""LLVM's IR-level instrumentation profiles: the options that make and use them, merging, and what they cover.

A module compiled with `INSTRUMENT_CC1` (cc1's `-fprofile-instrument=llvm`)
counts its blocks; a program linked from such objects by the clang driver
with `PROFILE_RUNTIME_LINK_FLAG` carries the profile runtime and writes a
`.profraw` where `LLVM_PROFILE_FILE` says when it exits. `merge_profiles`
turns raw profiles into one `.profdata` (`llvm-profdata merge`), which a
compile reads with `-fprofile-instrument-use-path=` (`CompileCommand.profile`;
`profile_use_cc1` spells it: clang 22's cc1 also wants the profile's kind,
`-fprofile-instrument-use=llvm`, which clang 19's refuses as unknown).

To tell which module a profile covers, `instrumented_functions` reads an
instrumented object's counter symbols (`__profc_<name>`) and
`function_counts` the profile's functions with the sum of their block
counts, both under the counter variable's spelling (`counter_name`: the
profile's name of a local function is `<source path>;<name>`, whose `/`,
`;` and other characters the assembler dislikes become `_` in the symbol).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.run import run_captured, run_tool

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain

__all__ = [
    "INSTRUMENT_CC1",
    "PROFILE_RUNTIME_LINK_FLAG",
    "ProfileError",
    "counter_name",
    "function_counts",
    "instrumented_functions",
    "merge_profiles",
    "profile_use_cc1",
]

INSTRUMENT_CC1 = ("-fprofile-instrument=llvm",)
_USE_KIND = "-fprofile-instrument-use=llvm"
PROFILE_RUNTIME_LINK_FLAG = "-fprofile-generate"
_COUNTER_PREFIX = "__profc_"
# LLVM's getVarName replaces these in a counter variable's name.
_INVALID = re.compile(r"[-:;<>/\"']")
_FUNCTION = re.compile(r"^  (\S.*):$")
_BLOCKS = re.compile(r"^    Block counts: \[(.*)\]$")


class ProfileError(MlgoError):
    """A profile that could not be merged or read; the message names it."""


def counter_name(function: str) -> str:
    """`function` (a profile's name) spelled as its counter symbol is, without the `__profc_` prefix."""
    return _INVALID.sub("_", function)


def profile_use_cc1(clang: str, profile: str) -> list[str]:
    """The cc1 options with which `clang` reads the IR-level profile `profile` (`.profdata`)."""
    kind = [_USE_KIND] if _cc1_takes_profile_kind(clang) else []
    return [*kind, f"-fprofile-instrument-use-path={profile}"]


@functools.cache
def _cc1_takes_profile_kind(clang: str) -> bool:
    """Whether `clang -cc1` knows `-fprofile-instrument-use=` (asked once per process and clang)."""
    argv = [clang, "-cc1", _USE_KIND, "-E", "-x", "c", os.devnull, "-o", os.devnull]
    try:
        return run_captured(argv, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False  # the compile itself will then say what is wrong with this clang


def merge_profiles(toolchain: Toolchain, raw: Sequence[Path], output: Path, *, timeout: float = 600.0) -> Path:
    """Merge the raw profiles `raw` into the indexed profile `output`."""
    if not raw:
        raise ProfileError(f"{output}: no raw profiles to merge")
    run_tool(
        [str(toolchain.tool("llvm-profdata")), "merge", "-o", str(output), *map(str, raw)],
        f"{output.name}: llvm-profdata merge of {len(raw)} raw profiles",
        ProfileError,
        timeout=timeout,
    )
    return output


def instrumented_functions(toolchain: Toolchain, obj: Path, *, timeout: float = 600.0) -> set[str]:
    """The functions the instrumented object `obj` counts (as `counter_name` spells them)."""
    result = run_tool(
        [str(toolchain.tool("llvm-nm")), "--just-symbol-name", str(obj)],
        f"{obj.name}: llvm-nm",
        ProfileError,
        timeout=timeout,
    )
    names = result.stdout.decode("utf-8", "replace").split()
    return {name[len(_COUNTER_PREFIX) :] for name in names if name.startswith(_COUNTER_PREFIX)}


def function_counts(toolchain: Toolchain, profile: Path, *, timeout: float = 600.0) -> dict[str, int]:
    """Each function of the indexed `profile` (as `counter_name` spells it) with the sum of its block counts."""
    result = run_tool(
        [str(toolchain.tool("llvm-profdata")), "show", "--all-functions", "--counts", str(profile)],
        f"{profile.name}: llvm-profdata show",
        ProfileError,
        timeout=timeout,
    )
    counts: dict[str, int] = {}
    function = None
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        if found := _FUNCTION.match(line):
            function = counter_name(found[1])
            counts.setdefault(function, 0)
        elif (found := _BLOCKS.match(line)) and function is not None:
            counts[function] += sum(int(value) for value in found[1].split(",") if value.strip())
    return counts
