"""cc1 command lines from an untrusted corpus: parse, sanitize, and finish them.

A corpus `.cmd` file holds the NUL-separated `-cc1` arguments that compiled a
module. Before such a command runs, everything that would write a file the
job did not choose is removed (`-o`, dependency files, remark files, crash
reports, time traces, serialized diagnostics, coverage and profile outputs,
split-DWARF outputs, module caches) and everything that would load code into
the compiler (`-load`, plugins, pass plugins) is refused with an
`UnsafeCommandLine` error naming the module and the option. `-mllvm` options
that name files or steer the ML advisors are refused too: the job sets those
itself. The job's own output paths are then added by `build_compile_command`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from compiler_opt.errors import MlgoError

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain


class UnsafeCommandLine(MlgoError):
    """A corpus command line asks the compiler to load code or is malformed."""


@dataclass(frozen=True)
class _OptionRule:
    """How one cc1 option is spelled: with a separate value, a joined one, or none."""

    name: str
    separate: bool = False
    joined: bool = False


def _rules(names: Iterable[str], **kind: bool) -> tuple[_OptionRule, ...]:
    return tuple(_OptionRule(name, **kind) for name in names)


# Options whose value is a file the compiler writes: dropped, value and all.
_WRITES_SEPARATE = _rules(
    (
        "-o",
        "-dependency-file",
        "-dependency-dot",
        "-header-include-file",
        "-module-dependency-dir",
        "-opt-record-file",
        "-opt-record-passes",
        "-opt-record-format",
        "-serialize-diagnostic-file",
        "-diagnostic-log-file",
        "-split-dwarf-output",
        "-coverage-data-file",
        "-coverage-notes-file",
        "-stack-usage-file",
        "-MT",
        "-MQ",
    ),
    separate=True,
)
_WRITES_JOINED = _rules(
    (
        "-o",
        "-dependency-file=",
        "-coverage-data-file=",
        "-coverage-notes-file=",
        "-fprofile-instrument-path=",
        "-fprofile-generate=",
        "-fcs-profile-generate=",
        "-fmodules-cache-path=",
        "-fcrash-diagnostics-dir=",
        "-ftime-trace=",
        "-stats-file=",
        "-fproc-stat-report=",
        "-header-include-file=",
        "-split-dwarf-output=",
        "-stack-usage-file=",
        "-opt-record-file=",
        "-fembed-bitcode=",
        "-fthinlto-index=",
    ),
    joined=True,
)
_WRITES_FLAG = frozenset(
    {
        "-MD",
        "-MMD",
        "-MP",
        "-MG",
        "-sys-header-deps",
        "-module-file-deps",
        "-ftime-trace",
        "-fembed-bitcode",
        "-save-temps",
        "-emit-llvm-uselists",
    }
)
# Kept options whose value is the next argument (so a value is not mistaken for an input).
_TAKES_VALUE = frozenset(
    {
        "-triple", "-target-cpu", "-tune-cpu", "-target-feature", "-target-abi", "-main-file-name",
        "-mrelocation-model", "-pic-level", "-resource-dir", "-internal-isystem",
        "-internal-externc-isystem", "-isystem", "-I", "-D", "-U", "-include", "-ferror-limit",
        "-fmessage-length", "-mllvm", "-debugger-tuning", "-fdebug-compilation-dir",
        "-fcoverage-compilation-dir", "-mcode-model", "-stack-protector", "-stack-protector-buffer-size",
        "-fvisibility", "-ftype-visibility", "-std", "-iquote", "-idirafter", "-isysroot",
        "-target-linker-version", "-mframe-pointer", "-fdenormal-fp-math", "-mlink-bitcode-file",
        "-mlink-builtin-bitcode", "-fmodule-format", "-dwarf-version", "-split-dwarf-file",
        "-fcolor-diagnostics", "-mthread-model", "-vectorize-loops", "-O", "-fmath-errno",
        "-mfloat-abi", "-meabi", "-fdebug-prefix-map", "-object-file-name",
    }
)
# Options that load code into the compiler: refused.
_LOADS_SEPARATE = ("-load", "-plugin", "-add-plugin", "-fpass-plugin", "-load-pass-plugin")
_LOADS_PREFIXES = ("-fpass-plugin=", "-load=", "-plugin-arg-", "-fplugin=", "-fplugin-arg-", "-add-plugin=")
# Actions that would make something other than an object file: replaced by -emit-obj.
_ACTIONS = frozenset(
    {
        "-emit-obj",
        "-emit-llvm",
        "-emit-llvm-bc",
        "-emit-llvm-only",
        "-emit-codegen-only",
        "-emit-llvm-uselists",
        "-S",
        "-E",
        "-fsyntax-only",
        "-emit-pch",
        "-emit-module",
        "-emit-module-interface",
        "-ast-dump",
        "-ast-print",
    }
)
# -mllvm options a corpus may not set: ones that write or read files the job
# did not choose, load code, or take over the ML advisors the job drives.
_MLLVM_REFUSED = re.compile(
    r"^--?("
    r"load|.*-file|.*-log|.*file-path|.*-output|info-output-file|stats-json"
    r"|.*interactive.*|enable-ml-inliner|regalloc-enable-.*advisor|.*model.*"
    r"|training-log|.*-path|time-trace.*|print-.*|view-.*|debug-only.*"
    r")(=.*)?$"
)


def read_cmd_file(path: Path) -> list[str]:
    """The arguments of a NUL-separated `.cmd` file (as LLVM's corpus tools write them)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnsafeCommandLine(f"{path}: not a text command line ({error})") from error
    return [arg for arg in text.split("\0") if arg]


def sanitize_cc1(args: Sequence[str], origin: str) -> list[str]:
    """`args` without output-writing options and actions, ready for `build_compile_command`.

    Raises `UnsafeCommandLine`, naming `origin`, for options that load code,
    forbidden `-mllvm` options, or a malformed line (not starting with `-cc1`,
    an option missing its value, an input file of its own).
    """
    if not args or args[0] != "-cc1":
        raise UnsafeCommandLine(f"{origin}: command line does not start with -cc1 (got {list(args[:1])})")
    result: list[str] = ["-cc1"]
    index = 1
    while index < len(args):
        arg = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        consumed = 1
        if arg in _LOADS_SEPARATE or arg.startswith(_LOADS_PREFIXES):
            raise UnsafeCommandLine(f"{origin}: refusing {arg!r}: a corpus may not load code into the compiler")
        if arg == "-mllvm":
            if value is None:
                raise UnsafeCommandLine(f"{origin}: -mllvm without a value at the end of the command line")
            if _MLLVM_REFUSED.match(value):
                raise UnsafeCommandLine(
                    f"{origin}: refusing '-mllvm {value}': it names a file or steers an ML advisor, "
                    "which the training job sets itself"
                )
            result += [arg, value]
            consumed = 2
        elif any(arg == rule.name for rule in _WRITES_SEPARATE):
            if value is None:
                raise UnsafeCommandLine(f"{origin}: {arg} without a value at the end of the command line")
            consumed = 2
        elif any(rule.joined and arg.startswith(rule.name) and arg != rule.name for rule in _WRITES_JOINED):
            pass
        elif arg in _WRITES_FLAG or arg in _ACTIONS:
            pass
        elif arg == "-x":
            consumed = 2
        elif not arg.startswith("-") and result[-1] not in _TAKES_VALUE:
            raise UnsafeCommandLine(
                f"{origin}: unexpected input {arg!r} in the command line; corpus commands "
                "name no input file (the module's .bc is the input)"
            )
        else:
            result.append(arg)
        index += consumed
    return result


def build_compile_command(
    toolchain: "Toolchain",
    cc1_args: Sequence[str],
    bitcode: Path,
    output: Path,
    *,
    thinlto_index: Path | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The full argv compiling `bitcode` to the object `output` with already sanitized `cc1_args`."""
    command = CompileCommand(str(toolchain.clang), tuple(cc1_args), str(bitcode), True,
                             None if thinlto_index is None else str(thinlto_index))
    return command.argv(output, extra_args)


@dataclass(frozen=True)
class CompileCommand:
    """How to compile one module (picklable): sanitized cc1 arguments, or plain driver ones."""

    clang: str
    args: tuple[str, ...]
    bitcode: str
    cc1: bool
    thinlto_index: str | None = None

    @classmethod
    def from_cc1(cls, toolchain: "Toolchain", cc1_args: Sequence[str], bitcode: Path, origin: str,
                 thinlto_index: Path | None = None) -> "CompileCommand":
        """A corpus module's command: `cc1_args` are sanitized here."""
        return cls(str(toolchain.clang), tuple(sanitize_cc1(cc1_args, origin)), str(bitcode), True,
                   None if thinlto_index is None else str(thinlto_index))

    @classmethod
    def plain(cls, toolchain: "Toolchain", bitcode: Path, optimization: str = "-Oz") -> "CompileCommand":
        """`clang <optimization> -c -x ir BITCODE`, for a module that came without a command line."""
        return cls(str(toolchain.clang), (optimization,), str(bitcode), False)

    def argv(self, output: Path, extra_args: Sequence[str] = ()) -> list[str]:
        """The full argv writing the object `output`, with `extra_args` before the input."""
        if self.cc1:
            return [self.clang, *self.args, "-emit-obj",
                    *([f"-fthinlto-index={self.thinlto_index}"] if self.thinlto_index else []),
                    *extra_args, "-x", "ir", self.bitcode, "-o", str(output)]
        return [self.clang, *self.args, "-c", *extra_args, "-x", "ir", self.bitcode, "-o", str(output)]
