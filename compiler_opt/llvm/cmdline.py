"""cc1 command lines from an untrusted corpus: parse, sanitize, and finish them.

A corpus `.cmd` file holds the NUL-separated `-cc1` arguments that compiled a
module. Those arguments are untrusted (docs/security.md): before one runs,
`sanitize_cc1` reads it the way clang will, with clang's own option table
(`compiler_opt.llvm.cc1_options`), so that every value is seen as a value and
every option as an option, and then

- refuses, with an `UnsafeCommandLine` naming the module and the argument,
  whatever could load code or read a file the job did not choose into the
  compile: any argument starting with `@` (the driver expands response files
  anywhere in its argv, value slots included, before it reads `-cc1`), plugin
  and `-load` options, options that link or read files into the module
  (`-mlink-bitcode-file`, profiles, sanitizer and XRay lists, any option
  whose value clang's help calls a file or folder, and any other
  value-taking option whose name says file, path, dir or list), a path
  (anything with a `/`) as the value of an option that does not merely record
  it as text, `-mllvm` options that name files or steer the ML advisors, and
  an input file of the line's own;
- drops, value and all, what writes files (`-o`, dependency files, remarks,
  crash reports, time traces, diagnostics, coverage and profile outputs,
  split-DWARF outputs, module caches), the actions (the job compiles to an
  object), and the preprocessor's and module loader's options (`-I`, `-D`,
  `-include`, `-resource-dir`, `-ivfsoverlay`, ...), which read files but
  cannot change how LLVM IR compiles.

The job's own input and output paths are then added by `CompileCommand.argv`,
spelled so that no corpus-chosen name can be read as an option (corpus
modules are absolute real paths; a relative name starting with `-` or `@`
gets a leading `./`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.cc1_options import OptionMatch, OptionTable, shipped_table
from compiler_opt.llvm.profdata import profile_use_cc1

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain

# Real `.cmd` files hold a few KiB; a larger one is refused before it is read whole.
MAX_CMD_FILE_BYTES = 1 << 20


class UnsafeCommandLine(MlgoError):
    """A corpus command line asks the compiler to load code or is malformed."""


# Options whose value is a file the compiler writes (or which only add to what
# it writes): dropped, value and all. Names as clang's table spells them
# (`=` ends a joined option's name).
_WRITES = frozenset(
    {
        "-o",
        "-dependency-file",
        "-dependency-dot",
        "-header-include-file",
        "-header-include-file=",
        "-module-dependency-dir",
        "-opt-record-file",
        "-opt-record-passes",
        "-opt-record-format",
        "-serialize-diagnostic-file",
        "-diagnostic-log-file",
        "-split-dwarf-output",
        "-coverage-data-file",
        "-coverage-notes-file",
        "-coverage-data-file=",
        "-coverage-notes-file=",
        "-stack-usage-file",
        "-MT",
        "-MQ",
        "-fprofile-instrument-path=",
        "-fprofile-generate=",
        "-fcs-profile-generate=",
        "-fmodules-cache-path=",
        "-fcrash-diagnostics-dir=",
        "-ftime-trace=",
        "-stats-file=",
        "-fproc-stat-report=",
        "-split-dwarf-output=",
        "-stack-usage-file=",
        "-opt-record-file=",
        "-fembed-bitcode=",
        "-fthinlto-index=",
        "-dependency-file=",
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
        "-ftime-trace-granularity=",
    }
)
# Options for the preprocessor and module loader: they read files, and cannot
# change how LLVM IR compiles. Dropped, value and all.
_PREPROCESSOR = frozenset(
    {
        "-D",
        "-U",
        "-I",
        "-F",
        "-include",
        "-include-pch",
        "-imacros",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-iprefix",
        "-iwithprefix",
        "-iwithprefixbefore",
        "-isysroot",
        "-internal-isystem",
        "-internal-externc-isystem",
        "-resource-dir",
        "-ivfsoverlay",
        "-iframework",
        "-iframeworkwithsysroot",
        "-cxx-isystem",
        "-c-isystem",
        "-objc-isystem",
        "-objcxx-isystem",
        "-isystem-after",
        "-stdlib++-isystem",
        "-fmodule-map-file=",
        "-fmodule-file=",
        "-fprebuilt-module-path=",
        "-working-directory",
        "-working-directory=",
        "-fbuild-session-file=",
        "-iembed-dir=",
        "-embed-dir=",
        "-x",
    }
)
# Actions that would make something other than an object file: the job adds -emit-obj.
_ACTIONS = frozenset(
    {
        "-emit-obj",
        "-emit-llvm",
        "-emit-llvm-bc",
        "-emit-llvm-only",
        "-emit-codegen-only",
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
# Value-taking options that only record their value as text (debug info,
# diagnostics), so a path there is a name, not a file that is read.
_RECORDS_TEXT = frozenset(
    {
        "-main-file-name",
        "-fdebug-compilation-dir",
        "-fdebug-compilation-dir=",
        "-fcoverage-compilation-dir=",
        "-ffile-compilation-dir=",
        "-fdebug-prefix-map=",
        "-fmacro-prefix-map=",
        "-fcoverage-prefix-map=",
        "-ffile-prefix-map=",
        "-fprofile-prefix-map=",
        "-dwarf-debug-flags",
        "-record-command-line",
        "-split-dwarf-file",
        "-object-file-name=",
        "-object-file-name",
    }
)
# Options that load code into the compiler (`-mmlir` forwards MLIR's options, which load pass plugins).
_LOADS = re.compile(r"^-(load|plugin|add-plugin|fpass-plugin|load-pass-plugin|fplugin|mmlir)(=|-arg|$)")
# Value-taking options whose name says they read a file: refused unless listed above.
_READS_FILE = re.compile(
    r"(^|-)(file|path|dir|directory|list|ignorelist|allowlist|blocklist|blacklist|whitelist|bitcode|overlay"
    r"|sysroot|remapping|gpubinary)(-|=|$)|(profile|sample)-use|(always|never)-instrument|offload-object"
)
# -mllvm options a corpus may not set: ones that write or read files the job
# did not choose, load code, or take over the ML advisors the job drives.
_MLLVM_REFUSED = re.compile(
    r"^--?("
    r"load|.*-file|.*-log|.*file-path|.*-output|info-output-file|stats-json"
    r"|.*interactive.*|enable-ml-inliner|regalloc-enable-.*advisor|.*model.*"
    r"|training-log|.*-path|time-trace.*|print-.*|view-.*|debug-only.*|.*list.*"
    r")(=.*)?$"
)


def read_cmd_file(path: Path) -> list[str]:
    """The arguments of a NUL-separated `.cmd` file (as LLVM's corpus tools write them)."""
    with open(path, "rb") as stream:
        data = stream.read(MAX_CMD_FILE_BYTES + 1)
    if len(data) > MAX_CMD_FILE_BYTES:
        raise UnsafeCommandLine(
            f"{path}: command file larger than {MAX_CMD_FILE_BYTES} bytes; a cc1 command line is a few KiB, "
            "so this is not one (extract the corpus again or remove the module)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnsafeCommandLine(f"{path}: not a text command line ({error})") from error
    return [arg for arg in text.split("\0") if arg]


def sanitize_cc1(args: Sequence[str], origin: str, table: OptionTable | None = None) -> list[str]:
    """`args` without output-writing options and actions, ready for `CompileCommand.argv`.

    Raises `UnsafeCommandLine`, naming `origin` and the argument, for
    anything the module docstring says is refused, and for a malformed line
    (not starting with `-cc1`, an option missing its value). `table` is
    clang's option table (the shipped one by default).
    """
    if not args or args[0] != "-cc1":
        raise UnsafeCommandLine(f"{origin}: command line does not start with -cc1 (got {list(args[:1])})")
    table = table or shipped_table()
    result: list[str] = ["-cc1"]
    index = 1
    while index < len(args):
        arg = args[index]
        _refuse_anywhere(arg, origin)
        if not arg.startswith("-") or arg == "-":
            raise UnsafeCommandLine(
                f"{origin}: unexpected input {arg!r} in the command line; corpus commands "
                "name no input file (the module's .bc is the input)"
            )
        option = table.match(arg)
        _refuse_anywhere(option.joined_value or "", origin)
        value = None
        if option.kind == "separate":
            if index + 1 >= len(args):
                raise UnsafeCommandLine(f"{origin}: {arg} without a value at the end of the command line")
            value = args[index + 1]
            _refuse_anywhere(value, origin)
            index += 2
        else:
            index += 1
        if _keep(option, arg, value, origin, table):
            result += [arg] if value is None else [arg, value]
    return result


def _refuse_anywhere(arg: str, origin: str) -> None:
    """Refuse what is unsafe in any position, option or value: response files and code loading."""
    if arg.startswith("@"):
        raise UnsafeCommandLine(
            f"{origin}: refusing {arg!r}: clang would read it as a response file (its contents become "
            "options), and a corpus may not make the compiler read files of its choosing"
        )
    if _LOADS.match(arg) or (arg.startswith("-") and "plugin" in arg.split("=", 1)[0]):
        raise UnsafeCommandLine(f"{origin}: refusing {arg!r}: a corpus may not load code into the compiler")


def _keep(option: OptionMatch, arg: str, value: str | None, origin: str, table: OptionTable) -> bool:
    """Whether `arg` (read as `option`, with its separate `value` if any) stays; raises for what is refused."""
    name = "-" + option.name[2:] if option.name.startswith("--") else option.name
    if name in _WRITES or name in _PREPROCESSOR or name in _ACTIONS:
        return False
    if name == "-mllvm":
        mllvm = value if value is not None else (option.joined_value or "")
        if _MLLVM_REFUSED.match(mllvm) or "/" in mllvm:
            raise UnsafeCommandLine(
                f"{origin}: refusing '-mllvm {mllvm}': it names a file or steers an ML advisor, "
                "which the training job sets itself"
            )
        return True
    if name in _RECORDS_TEXT or option.kind == "flag":
        return True
    if option.name in table.file_valued or name in table.file_valued or _READS_FILE.search(name):
        raise UnsafeCommandLine(
            f"{origin}: refusing {option.name!r}: it reads a file into the compile, and a corpus may not name "
            "files outside its own folder"
        )
    text = value if value is not None else arg
    if "/" in text:
        raise UnsafeCommandLine(
            f"{origin}: refusing {option.name} with value {text!r}: a path where clang may read a file; "
            "a corpus may not name files outside its own folder"
        )
    return True


def build_compile_command(
    toolchain: Toolchain,
    cc1_args: Sequence[str],
    bitcode: Path,
    output: Path,
    *,
    thinlto_index: Path | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The full argv compiling `bitcode` to the object `output` with already sanitized `cc1_args`."""
    command = CompileCommand(
        str(toolchain.clang), tuple(cc1_args), str(bitcode), True, None if thinlto_index is None else str(thinlto_index)
    )
    return command.argv(output, extra_args)


@dataclass(frozen=True)
class CompileCommand:
    """How to compile one module (picklable): sanitized cc1 arguments, or plain driver ones.

    `profile` is an instrumentation profile (`.profdata`) the compile uses
    for measured block frequencies (`compiler_opt.corpus.profiles`); the
    job chose it, the corpus did not (the corpus's own profile options are
    refused by `sanitize_cc1`).
    """

    clang: str
    args: tuple[str, ...]
    bitcode: str
    cc1: bool
    thinlto_index: str | None = None
    profile: str | None = None

    @classmethod
    def from_cc1(
        cls,
        toolchain: Toolchain,
        cc1_args: Sequence[str],
        bitcode: Path,
        origin: str,
        thinlto_index: Path | None = None,
    ) -> CompileCommand:
        """A corpus module's command: `cc1_args` are sanitized here."""
        return cls(
            str(toolchain.clang),
            tuple(sanitize_cc1(cc1_args, origin)),
            str(bitcode),
            True,
            None if thinlto_index is None else str(thinlto_index),
        )

    @classmethod
    def plain(cls, toolchain: Toolchain, bitcode: Path, optimization: str = "-Oz") -> CompileCommand:
        """`clang <optimization> -c -x ir BITCODE`, for a module that came without a command line."""
        return cls(str(toolchain.clang), (optimization,), str(bitcode), False)

    @property
    def files(self) -> tuple[str, ...]:
        """The files this compile reads: the bitcode, and the ThinLTO index and the profile when there are."""
        return tuple(path for path in (self.bitcode, self.thinlto_index, self.profile) if path is not None)

    def argv(self, output: Path, extra_args: Sequence[str] = ()) -> list[str]:
        """The full argv writing the object `output`, with `extra_args` before the input.

        A relative input or output path that starts with `-` or `@` (a
        module's name comes from the corpus) gets a leading `./`, so that it is
        never read as an option or a response file.
        """
        bitcode, output_path = _as_file(self.bitcode), _as_file(str(output))
        if self.cc1:
            index = [f"-fthinlto-index={self.thinlto_index}"] if self.thinlto_index else []
            profile = profile_use_cc1(self.clang, self.profile) if self.profile else []
            return [
                self.clang,
                *self.args,
                "-emit-obj",
                *index,
                *profile,
                *extra_args,
                "-x",
                "ir",
                bitcode,
                "-o",
                output_path,
            ]
        profile = [f"-fprofile-instr-use={self.profile}"] if self.profile else []
        return [self.clang, *self.args, "-c", *profile, *extra_args, "-x", "ir", bitcode, "-o", output_path]


def _as_file(path: str) -> str:
    """`path` spelled so that clang reads it as a file name."""
    return "./" + path if path.startswith(("-", "@")) else path
