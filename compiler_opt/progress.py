"""Progress bars for long work: rate and ETA on stderr, quiet when not a terminal."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it") -> tqdm:
    """A tqdm bar on stderr; disabled when stderr is not a TTY unless MLGO_PROGRESS=1."""
    forced = os.environ.get("MLGO_PROGRESS")
    enabled = sys.stderr.isatty() if forced is None else forced == "1"
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True)
