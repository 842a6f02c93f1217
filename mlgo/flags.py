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
