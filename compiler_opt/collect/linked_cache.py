"""The on-disk cache of linked-size baselines: each module's `-Oz` object, and each library's `-Oz` link.

`compiler_opt.collect.linked_size` values a module by how its object changes
its library's linked `.text`; what it compares with (every member's `-Oz`
object and the library linked from them) does not change between compiles,
so it is computed once and kept in a folder the caller names, beside the
baselines (`<baseline folder>/linked`).

Keys, as `compiler_opt.collect.baseline` keys its entries:
- an object's key extends its module's baseline key (module content,
  compiler identity, the compile's full command line, problem, measurement,
  how it is compiled): a changed module or compiler gives a new key;
- a link's key is a sha256 over the library's members in order, the sha256
  of each member's object, the link command (placeholders for the paths
  that vary) and the compiler's identity.

Layout: `objects/<key[:2]>/<key>.o` with `<key>.json` (the module's score
and the object's sha256), `links/<key[:2]>/<key>.json` (the linked sizes).
Every file is written to a temporary name, fsynced and renamed into place;
an entry that does not parse, whose recorded key differs from its name, or
whose object's bytes do not match the recorded sha256, is missing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.link import link_command
from compiler_opt.llvm.measure import ObjectSize
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.paths import write_atomically
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

__all__ = ["LinkedCache", "ObjectEntry", "sha256_bytes"]

FORMAT_VERSION = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ObjectEntry:
    """A module's cached `-Oz` object: where it is, its sha256, and its score."""

    path: Path
    sha256: str
    score: Score


class LinkedCache:
    """Linked-size baselines of `problem` under `toolchain`, kept in `folder`; see the module docstring."""

    def __init__(self, folder: str | os.PathLike, toolchain: Toolchain, problem: Problem) -> None:
        self.folder = Path(folder)
        self.toolchain = toolchain
        self._keys = BaselineCache(self.folder, toolchain, problem)

    def object_key(self, command: CompileCommand) -> str:
        return _digest({"format": FORMAT_VERSION, "kind": "-Oz object", "baseline": self._keys.key(command)})

    def link_key(self, members: Sequence[str], objects: Sequence[str]) -> str:
        """The key of the link of `members` (in order) whose objects have the sha256s `objects`."""
        argv = link_command(self.toolchain, [Path("<object.o>")], Path("<library.so>"))
        material = {
            "format": FORMAT_VERSION,
            "kind": "library link",
            "members": list(members),
            "objects": list(objects),
            "argv": argv,
            "compiler": self.toolchain.identity,
        }
        return _digest(material)

    def object_path(self, key: str) -> Path:
        return self.folder / "objects" / key[:2] / f"{key}.o"

    def read_object(self, key: str) -> ObjectEntry | None:
        """The cached object of `key`, or None (missing, unreadable, or not the bytes recorded)."""
        path = self.object_path(key)
        try:
            entry = json.loads(path.with_suffix(".json").read_text())
            if entry["key"] != key or entry["format"] != FORMAT_VERSION:
                return None
            if sha256_bytes(path.read_bytes()) != entry["sha256"]:
                return None
            return ObjectEntry(path, entry["sha256"], _score_from_json(entry["score"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def write_object(self, key: str, module: str, data: bytes, score: Score) -> ObjectEntry:
        """Store `module`'s object bytes and score under `key` (the object first, then its record)."""
        path = self.object_path(key)
        digest = sha256_bytes(data)
        write_atomically(path, data)
        record = {
            "format": FORMAT_VERSION,
            "key": key,
            "module": module,
            "sha256": digest,
            "score": {"value": score.value, "figures": dict(score.figures)},
            **self._stamp(),
        }
        write_atomically(path.with_suffix(".json"), json.dumps(record).encode())
        return ObjectEntry(path, digest, score)

    def read_link(self, key: str) -> ObjectSize | None:
        """The cached linked sizes of `key`, or None."""
        try:
            entry = json.loads(self._link_path(key).read_text())
            if entry["key"] != key or entry["format"] != FORMAT_VERSION:
                return None
            return ObjectSize(int(entry["text"]), int(entry["text_section"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_link(self, key: str, library: str, members: Sequence[str], size: ObjectSize) -> None:
        record = {
            "format": FORMAT_VERSION,
            "key": key,
            "library": library,
            "members": list(members),
            "text": size.text,
            "text_section": size.text_section,
            **self._stamp(),
        }
        write_atomically(self._link_path(key), json.dumps(record).encode())

    def _link_path(self, key: str) -> Path:
        return self.folder / "links" / key[:2] / f"{key}.json"

    def _stamp(self) -> dict:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return {"compiler": self.toolchain.identity, "written": now}


def _digest(material: dict) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _score_from_json(data: dict) -> Score:
    return Score(float(data["value"]), {k: float(v) for k, v in data["figures"].items()})
