"""Progress of long work on stderr: a tqdm bar on a terminal, plain lines elsewhere (CI logs, `tee`).

Where stderr is not a terminal, `progress` prints one line every `interval`
seconds of work (default 10, or `$MLGO_PROGRESS_INTERVAL`): the stage, done
and total, rate and time left, then a last line when work that printed one
ends. `MLGO_PROGRESS=1` forces the bar, any other value silences both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from tqdm import tqdm

T = TypeVar("T")

DEFAULT_INTERVAL = 10.0


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    interval: float | None = None,
) -> tqdm | ProgressLines:
    """A tqdm bar on stderr when it is a terminal, else `ProgressLines` every `interval` seconds (see the module)."""
    forced = os.environ.get("MLGO_PROGRESS")
    if forced is None and not sys.stderr.isatty():
        if interval is None:
            interval = float(os.environ.get("MLGO_PROGRESS_INTERVAL", DEFAULT_INTERVAL))
        return ProgressLines(iterable, total=total, desc=desc, unit=unit, interval=interval)
    enabled = sys.stderr.isatty() if forced is None else forced == "1"
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True)


class ProgressLines(Generic[T]):
    """The part of tqdm's interface the project uses, printing `[desc] done/total ...` lines at most every
    `interval` seconds as work is counted, and a last line at the end if it printed any."""

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.iterable = iterable
        self.total = total if total is not None else _length(iterable)
        self.desc, self.unit, self.interval = desc, unit, interval
        self.n = 0
        self.postfix = ""
        self._clock = clock
        self._started = self._last = clock()
        self._printed = False
        self._closed = False

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("this progress has no iterable: use update()")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count `n` more done; print a line if `interval` seconds passed since the last (or the start), unless
        the work is complete (the last line says so)."""
        self.n += n
        now = self._clock()
        if now - self._last >= self.interval and not (self.total and self.n >= self.total):
            self._last = now
            self._print(self._line(now))

    def set_postfix(self, refresh: bool = True, **values) -> None:  # pylint: disable=unused-argument
        """Figures appended to the next lines (as `name=value`)."""
        self.postfix = "".join(f", {name}={value}" for name, value in values.items())

    def close(self) -> None:
        """Print the last line (the figures in full), if the work printed any before."""
        if self._printed and not self._closed:
            elapsed = self._clock() - self._started
            self._print(f"[{self.desc}] {self._count()} in {_duration(elapsed)}{self.postfix}")
        self._closed = True

    def _line(self, now: float) -> str:
        elapsed = now - self._started
        rate = self.n / elapsed if elapsed > 0 else 0.0
        text = f"[{self.desc}] {self._count()}, {rate:.3g} {self.unit}/s"
        if self.total and rate > 0:
            text += f", ETA {_duration(max(0, self.total - self.n) / rate)}"
        return text + self.postfix

    def _count(self) -> str:
        if not self.total:
            return f"{self.n} {self.unit}"
        return f"{self.n}/{self.total} {self.unit} ({100 * self.n // self.total}%)"

    def _print(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        self._printed = True


def _length(iterable: Iterable | None) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


def _duration(seconds: float) -> str:
    """`seconds` as `1h02m`, `3m05s` or `42s`."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
