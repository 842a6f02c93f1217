"""How a compile fails: typed errors that name the module and keep the compiler's stderr tail."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import NoReturn

from compiler_opt.errors import MlgoError


class CompilerFailure(MlgoError):
    """A compile that did not produce its result; names the module and keeps stderr's tail."""

    def __init__(self, module: str, reason: str, returncode: int | None = None, stderr_tail: str = "") -> None:
        self.module = module
        self.reason = reason
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        message = f"{module}: {reason}"
        if stderr_tail.strip():
            message += "\ncompiler stderr (tail):\n" + stderr_tail.rstrip()
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.module, self.reason, self.returncode, self.stderr_tail))


class CompilerCrash(CompilerFailure):
    """The compiler exited with a non-zero status (or by a signal)."""


class CompilerTimeout(CompilerFailure):
    """The compile ran past its wall limit, or sent nothing within the per-read limit."""


class ChannelProtocolError(CompilerFailure):
    """The compiler's stream was not a well-formed log (bad header, truncated record)."""


def raise_start_failure(module: str, argv: Sequence[str], error: OSError) -> NoReturn:
    """Raise why the compile of `module` could not start: its `CompilerFailure` for E2BIG, else `error` itself.

    Linux refuses an argument list over its limit, and any one argument over 128 KiB: the module's command
    line (its `.cmd`) is at fault, not the run, so it fails like a compile that crashed.
    """
    if error.errno != errno.E2BIG:
        raise error
    longest = max(argv, key=len, default="")
    raise CompilerFailure(
        module,
        f"cannot start the compiler: its command line is too long for the operating "
        f"system ({len(argv)} arguments, {sum(len(arg) + 1 for arg in argv)} bytes; the longest "
        f"has {len(longest)} bytes and starts {longest[:40]!r})",
    ) from error
