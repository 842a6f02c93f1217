"""Staging a job's declared files on the node that runs it (`ship_modules`), instead of reading shared paths.

A job names the files it reads in `Job.files` (a module's bitcode and
ThinLTO index). Without shipping the job reads them where they are, which
is right when every node mounts the corpus at the same path. With shipping,
the driver puts each declared file's bytes into the object store once
(`Shipper`, a bounded cache across runs, keyed by path, size and mtime) and
the task writes them into its own temp dir (`staged_values`); the job then
receives its arguments with every occurrence of a declared path replaced by
its copy's. Occurrences are found as values equal to the path (a `str` or a
path object, which keeps its type) anywhere in tuples, lists, dicts and
dataclass instances, so job functions need no change either way. Nothing
here knows what a module is.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from compiler_opt.pool.ray_backend.connection import ray_module

__all__ = ["Shipper", "staged_values", "with_paths_replaced"]

# A declared file as the task sees it: its path on the driver, and the index of the value holding its bytes.
Staged = tuple[str, int]


class Shipper:
    """The driver's side: object-store refs of files' bytes, cached while the files are unchanged.

    The cache holds at most `cache_bytes` of files (the oldest used go first;
    the newest always stays).
    """

    def __init__(self, cache_bytes: int) -> None:
        self._cache_bytes = cache_bytes
        self._refs: collections.OrderedDict[tuple, tuple[Any, int]] = collections.OrderedDict()
        self._bytes = 0

    def ship(self, files: Iterable[str | os.PathLike], values: list) -> tuple[Staged, ...]:
        """Append a ref of each file's bytes to `values`; the (path, index) of each. Raises OSError if unreadable."""
        staged: dict[str, int] = {}
        for file in files:
            path = os.fspath(file)
            if path not in staged:
                values.append(self._file_ref(path))
                staged[path] = len(values) - 1
        return tuple(staged.items())

    def clear(self) -> None:
        self._refs.clear()
        self._bytes = 0

    def _file_ref(self, path: str):
        stat = os.stat(path)
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key in self._refs:
            self._refs.move_to_end(key)
            return self._refs[key][0]
        ref = ray_module().put(Path(path).read_bytes())
        self._refs[key] = (ref, stat.st_size)
        self._bytes += stat.st_size
        while self._bytes > self._cache_bytes and len(self._refs) > 1:
            _, (_, size) = self._refs.popitem(last=False)
            self._bytes -= size
        return ref


def staged_values(values: Sequence, count: int, staged: Sequence[Staged], keep: Iterable[int], folder: Path) -> list:
    """The task's side: write the staged files' bytes under `folder`; the first `count` values with their paths
    replaced by the copies' (values at the indexes in `keep`, the shared objects, stay as they are)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = {}
    for path, index in staged:
        copy = folder / f"{index}-{Path(path).name}"
        copy.write_bytes(values[index])
        copies[path] = str(copy)
    kept = set(keep)
    return [
        value if index in kept else with_paths_replaced(value, copies) for index, value in enumerate(values[:count])
    ]


def with_paths_replaced(value: Any, paths: Mapping[str, str]) -> Any:
    """`value` with every `str` or path object equal to a key of `paths` replaced by its value, as the same type,
    inside tuples, lists, dicts and dataclass instances at any depth (module docstring); `value` itself when
    nothing changes."""
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not (isinstance(path, str) and path in paths):
            return value
        # a path type (e.g. pathlib's) is built from a str; typeshed's os.PathLike declares no constructor
        return type(value)(paths[path])  # type: ignore[call-arg]
    if isinstance(value, (tuple, list)):
        items = [with_paths_replaced(item, paths) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        entries = {key: with_paths_replaced(item, paths) for key, item in value.items()}
        if all(entries[key] is item for key, item in value.items()):
            return value
        copy = value.copy()
        copy.update(entries)
        return copy
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            if field.init:
                old = getattr(value, field.name)
                new = with_paths_replaced(old, paths)
                if new is not old:
                    changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
