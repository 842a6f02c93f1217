"""Flags that several `mlgo` verbs share, spelled and explained the same way everywhere."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from compiler_opt.pool.backends import BACKENDS, make_pool
from compiler_opt.pool.base import WorkerPool

CLANG_SEARCH = "$MLGO_CLANG, then clang-22 ... clang-17, clang"


def add_clang_flag(parser: argparse.ArgumentParser, purpose: str = "the clang to use") -> None:
    """`--clang PATH`: which compiler; unset, the toolchain search order decides."""
    parser.add_argument("--clang", help=f"{purpose} (default: {CLANG_SEARCH})")


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


def add_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """`--timeout SECONDS`: the wall-time limit of one compile."""
    parser.add_argument("--timeout", type=positive_float, default=600.0,
                        help="wall-time limit of one compile in seconds (default: 600)")


def add_module_sample_flags(parser: argparse.ArgumentParser, verb: str, seeds: str = "the module sample") -> None:
    """`--max-modules N` and `--seed S`: `verb` a seeded, size-stratified sample of the corpus (`sample_modules`)."""
    parser.add_argument("--max-modules", type=positive_int, default=None,
                        help=f"{verb} a seeded, size-stratified sample of this many modules (default: all)")
    parser.add_argument("--seed", type=int, default=0, help=f"seed of {seeds} (default: 0)")


def add_pool_flags(parser: argparse.ArgumentParser) -> None:
    """Add --backend, --workers, --ray-address and --ship-modules to a verb's parser."""
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where compile jobs run: local worker processes, or Ray tasks on a cluster "
                        "(needs the ray extra; see docs/distributed.md) (default: local)")
    parser.add_argument("--workers", type=int, default=None,
                        help="how many jobs run at once (default: one per CPU this process may use; with "
                        "--backend ray, every CPU of the cluster)")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="the Ray cluster's head node, as `ray start --head` printed it (default: start a "
                        "private Ray instance on this machine)")
    parser.add_argument("--ship-modules", action="store_true",
                        help="with --backend ray: send each module's bitcode to the node that compiles it, for "
                        "nodes that do not see the corpus folder at the same path")


def pool_from_args(args: argparse.Namespace) -> WorkerPool:
    """The pool `add_pool_flags`' parsed flags ask for."""

    return make_pool(args.backend, args.workers, getattr(args, "ray_address", None),
                     bool(getattr(args, "ship_modules", False)), clang=getattr(args, "clang", None))
