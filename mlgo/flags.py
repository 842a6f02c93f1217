"""Flags that several `mlgo` verbs share, spelled and explained the same way everywhere.

Every flag here has one meaning in every verb that takes it (the table is in
docs/architecture.md, "Flags"). Old spellings keep working for one release:
each is a hidden flag that does what the new one does after one line on stderr
naming the new spelling (`OldSpelling`).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compiler_opt.pool.backends import BACKENDS, make_pool
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems import problem_names

CLANG_SEARCH = "$MLGO_CLANG, then clang-22 ... clang-17, clang"
# Observations `--verify` checks the exported forms on, wherever there is a corpus to record them from: enough to
# meet every feature's common values, a few seconds of compiles. Without a corpus (`mlgo export` with no --corpus)
# there is nothing to record, so nothing is checked.
DEFAULT_VERIFY = 200


def deprecation_note(prog: str, old: str, new: str) -> None:
    """The one stderr line an old spelling prints: it still works this release; `new` is what to write."""
    print(f"{prog}: {old} is deprecated and goes in the next release; use {new}", file=sys.stderr)


class OldSpelling(argparse.Action):
    """An old spelling of a flag: notes the new spelling on stderr, then does exactly what the new flag does."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: argparse.Action, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        deprecation_note(parser.prog, option_string or self.option_strings[0], "/".join(self.new.option_strings))
        self.new(parser, namespace, values, option_string)


def add_old_spellings(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    new: argparse.Action,
    *old: str,
    type: Callable[[str], Any] | None = None,
) -> None:
    """Accept `old` option strings for the flag `new` (hidden from --help); `type` when the old unit differs."""
    parser.add_argument(
        *old,
        action=OldSpelling,
        new=new,
        dest=new.dest,
        nargs=new.nargs,
        const=new.const,
        type=type or new.type or str,
        choices=new.choices,
        metavar=new.metavar,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


# --- argparse types -------------------------------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of things, where 0 or less means nothing)."""
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (a count where 0 means none, e.g. `--verify 0` skips)."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (a limit, where 0 or less would mean none or no time at all)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def minutes_in_seconds(text: str) -> float:
    """An argparse type: a positive number of minutes, as seconds."""
    return positive_float(text) * 60


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def output_folder(text: str) -> Path:
    """An argparse type: a folder to create or write into; refused when it, or a folder above it, is a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    _check_parent_folders(path)
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file to write; refused when it is a folder, or a folder above it is a file."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name the file to write")
    _check_parent_folders(path)
    return path


def _check_parent_folders(path: Path) -> None:
    """The nearest existing folder above `path` must be a folder (not a file), or nothing can be made in it."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"cannot write in {parent}: it is a file, not a folder")
            return


# --- single flags ---------------------------------------------------------------------------------------------------
def add_output_flag(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    kind: Callable[[str], Path] = output_folder,
    required: bool = True,
    default: str | None = None,
    metavar: str | None = None,
) -> None:
    """`--output/-o PATH`: where the verb writes what it makes (`kind`: `output_folder` or `output_file`)."""
    parser.add_argument("--output", "-o", type=kind, required=required, default=default, metavar=metavar, help=help)


def add_problem_flag(parser: argparse.ArgumentParser, help: str, *, required: bool = True) -> None:
    """`--problem NAME`: one of the registered problems, in every verb."""
    parser.add_argument("--problem", required=required, choices=problem_names(), help=help)


def add_json_flag(parser: argparse.ArgumentParser, what: str = "the result", *, old_file_form: bool = False) -> None:
    """`--json`: print `what` as one JSON object on stdout (and nothing else there).

    `old_file_form`: the verb once took `--json FILE`; that form still writes the file, as `--output FILE` now
    does, with a deprecation note.
    """
    if old_file_form:
        parser.add_argument(
            "--json",
            action=JsonSwitchOrOldFile,
            nargs="?",
            const=True,
            default=False,
            metavar="FILE",
            help=f"print {what} as one JSON object (the old `--json FILE`, deprecated, "
            "still writes FILE, as --output FILE does)",
        )
    else:
        parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON object")


class JsonSwitchOrOldFile(argparse.Action):
    """`--json` as a switch; `--json FILE` (the old meaning) sets --output FILE, after a deprecation note."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is True:
            setattr(namespace, self.dest, True)
            return
        deprecation_note(parser.prog, "--json FILE", "--output FILE (and --json to print the JSON)")
        try:
            namespace.output = output_file(values)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentError(self, str(error)) from None


def add_clang_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, purpose: str = "the clang to use"
) -> None:
    """`--clang PATH`: which compiler; unset, the toolchain search order decides."""
    parser.add_argument("--clang", help=f"{purpose} (default: {CLANG_SEARCH})")


def add_workers_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    old_jobs: bool = False,
    help: str = "how many jobs run at once (default: one per CPU this process may use)",
) -> None:
    """`--workers N`: parallel jobs; `old_jobs`: also the deprecated `--jobs/-j` this verb once took."""
    new = parser.add_argument("--workers", type=positive_int, default=None, help=help)
    if old_jobs:
        add_old_spellings(parser, new, "--jobs", "-j")


def add_timeout_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """`--timeout SECONDS`: the wall-time limit of one compile."""
    parser.add_argument(
        "--timeout", type=positive_float, default=600.0, help="wall-time limit of one compile in seconds (default: 600)"
    )


def add_budget_flag(
    parser: argparse.ArgumentParser, help: str, *, default_minutes: float | None = None, old_seconds: bool = False
) -> None:
    """`--budget-minutes M`: training wall time, parsed into `max_seconds` (seconds); `old_seconds`: `--max-seconds`."""
    new = parser.add_argument(
        "--budget-minutes",
        dest="max_seconds",
        type=minutes_in_seconds,
        metavar="MINUTES",
        default=None if default_minutes is None else default_minutes * 60,
        help=help + (" (--max-seconds SECONDS: the deprecated spelling)" if old_seconds else ""),
    )
    if old_seconds:
        add_old_spellings(parser, new, "--max-seconds", type=positive_float)


def add_verify_flag(parser: argparse.ArgumentParser, *, corpus_optional: bool = False) -> None:
    """`--verify N`: observations the exported forms must decide alike on; 0 skips (see `DEFAULT_VERIFY`)."""
    default = "200 with --corpus, else 0" if corpus_optional else str(DEFAULT_VERIFY)
    parser.add_argument(
        "--verify",
        type=non_negative_int,
        default=None if corpus_optional else DEFAULT_VERIFY,
        metavar="N",
        help="record N observations by compiling corpus modules under the policy and "
        f"check every exported form decides identically on each (default: {default}; 0 skips)",
    )


def verify_count(args: argparse.Namespace) -> int:
    """`--verify`'s count: as given, else `DEFAULT_VERIFY` when the verb has a corpus to record from, else 0."""
    if args.verify is not None:
        return args.verify
    return DEFAULT_VERIFY if args.corpus is not None else 0


def add_gin_flags(
    parser: argparse.ArgumentParser,
    read: str = "parsed after the problem's",
    example: str = "train.trainer_config.iterations = 5",
) -> None:
    """`--gin-file FILE` and `--gin-binding BINDING` (repeatable); old: --gin_file, --gin_bindings, --gin-bindings.

    `read` says what the verb reads from them, `example` is a binding it takes."""
    files = parser.add_argument(
        "--gin-file",
        dest="gin_files",
        action="append",
        type=Path,
        default=[],
        help=f"extra gin file, {read} (repeatable; --gin_file: the deprecated spelling)",
    )
    bindings = parser.add_argument(
        "--gin-binding",
        dest="gin_bindings",
        action="append",
        default=[],
        help=f"extra gin binding, e.g. '{example}' (repeatable; --gin_bindings, --gin-bindings: the deprecated "
        "spellings)",
    )
    add_old_spellings(parser, files, "--gin_file")
    add_old_spellings(parser, bindings, "--gin_bindings", "--gin-bindings")


def add_module_sample_flags(parser: argparse.ArgumentParser, verb: str, seeds: str = "the module sample") -> None:
    """`--max-modules N` and `--seed S`: `verb` a seeded, size-stratified sample of the corpus (`sample_modules`)."""
    parser.add_argument(
        "--max-modules",
        type=positive_int,
        default=None,
        help=f"{verb} a seeded, size-stratified sample of this many modules (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help=f"seed of {seeds} (default: 0)")


def add_profiles_flag(parser: argparse.ArgumentParser, also: str = "") -> None:
    """`--profiles`: compile every module with its measured profile (`compiler_opt.corpus.profiles`); `also`: what
    the flag means besides in this verb (appended to the help)."""
    parser.add_argument(
        "--profiles",
        action="store_true",
        help="compile every module (and its baselines) with measured block frequencies: the corpus's runtime "
        "programs are built instrumented and run, and each module their workloads run gets the merged profile "
        "(cached per library and compiler in the per-user cache); modules without one are listed on stderr" + also,
    )


# --- groups ---------------------------------------------------------------------------------------------------------
def add_pool_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add --backend, --workers, --ray-address and --ship-modules to a verb's parser."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where compile jobs run: local worker processes, or Ray tasks on a cluster "
        "(needs the ray extra; see docs/distributed.md) (default: local)",
    )
    add_workers_flag(
        parser,
        help="how many jobs run at once (default: one per CPU this process may use; with "
        "--backend ray, every CPU of the cluster)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="HOST:PORT",
        help="the Ray cluster's head node, as `ray start --head` printed it (default: start a "
        "private Ray instance on this machine)",
    )
    parser.add_argument(
        "--ship-modules",
        action="store_true",
        help="with --backend ray: send each module's bitcode to the node that compiles it, for "
        "nodes that do not see the corpus folder at the same path",
    )


def add_corpus_compile_flags(parser: argparse.ArgumentParser, *, timeout: bool = True) -> None:
    """The group of verbs that compile a corpus on the pool: --corpus, the pool's flags, --clang, --timeout."""
    group = parser.add_argument_group("compiling the corpus")
    group.add_argument("--corpus", required=True, type=Path, help="the corpus folder (corpus_description.json)")
    add_pool_flags(group)
    add_clang_flag(group)
    if timeout:
        add_timeout_flag(group)


def pool_from_args(args: argparse.Namespace) -> WorkerPool:
    """The pool `add_pool_flags`' parsed flags ask for."""

    return make_pool(
        args.backend,
        args.workers,
        getattr(args, "ray_address", None),
        bool(getattr(args, "ship_modules", False)),
        clang=getattr(args, "clang", None),
    )


def describe(parser: argparse.ArgumentParser, *, description: str | None, epilog: str | None = None) -> None:
    """Give a verb's parser its description and epilog, shown as written (their line breaks kept)."""
    parser.description, parser.epilog = description, epilog
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
