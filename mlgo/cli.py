"""Entry point of `mlgo`: the table of verbs, the parser that loads only the chosen one, and dispatch.

`VERBS` names each verb's module and one-line help. `mlgo --help` lists them
without importing any: a verb's module is imported (and its flags added, by
its `configure(parser)`, which also sets `run`, a function taking the parsed
namespace and returning an exit code) only when the parser meets its name.
So `mlgo cc` pays for the drop-in compiler alone, not for TensorFlow or the
report's plotting.

SIGTERM ends a verb the way Ctrl-C does (`Terminated`, a `KeyboardInterrupt`):
every `finally` and context manager runs, so compilers, pool workers and temp
folders go with it; the exit status is 143 (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from compiler_opt.errors import MlgoError


@dataclass(frozen=True)
class Verb:
    """A verb of `mlgo`: the module that configures and runs it, and its line in `mlgo --help`."""

    module: str
    help: str


VERBS: dict[str, Verb] = {
    "trace": Verb("mlgo.trace", "compile one module under a built-in policy and log every decision"),
    "corpus": Verb("mlgo.corpus", "make, combine, inspect corpora; build the sample corpus"),
    "demo": Verb("mlgo.demo", "the main job: train, evaluate, export and report an inlining-for-size policy"),
    "eval": Verb("mlgo.eval", "compare a policy with the compiler's own heuristic on a corpus"),
    "vocab": Verb("mlgo.vocab", "compute the feature vocabulary (quantile buckets) from traces of a corpus"),
    "search": Verb("mlgo.search", "search, module by module, for better decisions than the compiler's (the headroom)"),
    "report": Verb(
        "mlgo.report", "compare policies with the default heuristic: HTML page, Markdown tables, CSV, plots"
    ),
    "export": Verb("mlgo.export", "export a policy as SavedModel, TFLite and XLA AOT for LLVM, and check the exports"),
    "train": Verb(
        "mlgo.train",
        "train a policy with PPO or evolution strategies, or clone the compiler's own heuristic (BC), on a corpus",
    ),
    "cc": Verb("mlgo.cc", "compile with clang, answering its ML advisor with a trained policy"),
}


class CommandError(MlgoError):
    """A bad combination of flags, found after argparse accepted them."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread so that cleanup runs as for Ctrl-C."""


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    """The SIGTERM handler: raise `Terminated` once; a second SIGTERM during cleanup ends the process at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated()


class _VerbParsers(dict[str, argparse.ArgumentParser]):
    """Verb name -> its parser, whose module is imported and flags added the first time the name is looked up."""

    def __init__(self) -> None:
        super().__init__()
        self._configured: set[str] = set()

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        parser = super().__getitem__(name)
        if name not in self._configured:
            self._configured.add(name)
            importlib.import_module(VERBS[name].module).configure(parser)
        return parser


class _LazyVerbs(argparse._SubParsersAction):
    """The verbs' sub-parser action, holding its parsers in a `_VerbParsers` (argparse looks the chosen one up)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _VerbParsers()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlgo")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The `mlgo` parser; a verb's flags are added when it is parsed (or looked up in its choices), not before."""
    parser = argparse.ArgumentParser(
        prog="mlgo",
        description="Train machine-learned compiler heuristics against a stock clang.",
    )
    parser.add_argument("--version", action="version", version=f"mlgo {_version()}")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True, action=_LazyVerbs)
    for name, verb in VERBS.items():
        subparsers.add_parser(name, help=verb.help)
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
