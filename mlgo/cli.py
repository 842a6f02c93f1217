"""Entry point of `mlgo`: builds the verb parsers and dispatches.

Each verb module exposes `register(subparsers)`, which adds its parser and sets
`run` (a function taking the parsed namespace and returning an exit code).
SIGTERM ends a verb the way Ctrl-C does (`Terminated`, a `KeyboardInterrupt`):
every `finally` and context manager runs, so compilers, pool workers and temp
folders go with it; the exit status is 143 (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import Sequence

from compiler_opt.errors import MlgoError

VERBS = ("trace", "corpus", "demo", "eval", "vocab", "search", "report", "export", "train", "cc")


class CommandError(MlgoError):
    """A bad combination of flags, found after argparse accepted them."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread so that cleanup runs as for Ctrl-C."""


def raise_terminated(signum: int, frame) -> None:
    """The SIGTERM handler: raise `Terminated` once; a second SIGTERM during cleanup ends the process at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlgo")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlgo",
        description="Train machine-learned compiler heuristics against a stock clang.",
    )
    parser.add_argument("--version", action="version", version=f"mlgo {_version()}")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"mlgo.{verb}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return int(args.run(args) or 0)
    except MlgoError as error:
        print(f"mlgo {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"mlgo {args.verb}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"mlgo {args.verb}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
