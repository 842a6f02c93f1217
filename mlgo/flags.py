"""Flags that several `mlgo` verbs share, spelled and explained the same way everywhere."""

from __future__ import annotations

import argparse

CLANG_SEARCH = "$MLGO_CLANG, then clang-22 ... clang-17, clang"


def add_clang_flag(parser: argparse.ArgumentParser, purpose: str = "the clang to use") -> None:
    """`--clang PATH`: which compiler; unset, the toolchain search order decides."""
    parser.add_argument("--clang", help=f"{purpose} (default: {CLANG_SEARCH})")


def add_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """`--timeout SECONDS`: the wall-time limit of one compile."""
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="wall-time limit of one compile in seconds (default: 600)")


def add_module_sample_flags(parser: argparse.ArgumentParser, verb: str, seeds: str = "the module sample") -> None:
    """`--max-modules N` and `--seed S`: `verb` a seeded, size-stratified sample of the corpus (`sample_modules`)."""
    parser.add_argument("--max-modules", type=int, default=None,
                        help=f"{verb} a seeded, size-stratified sample of this many modules (default: all)")
    parser.add_argument("--seed", type=int, default=0, help=f"seed of {seeds} (default: 0)")
