"""Staging declared files: every occurrence of a declared path in a job's arguments becomes its copy's."""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

from compiler_opt.pool.ray_backend.shipping import staged_values, with_paths_replaced


@dataclasses.dataclass(frozen=True)
class _Module:
    name: str
    bitcode: Path
    index: str | None


@dataclasses.dataclass(frozen=True)
class _Task:
    module: _Module
    flags: tuple[str, ...]


def test_declared_paths_are_replaced_at_any_depth_keeping_their_type():
    task = _Task(_Module("m", Path("/corpus/m.bc"), "/corpus/m.thinlto.bc"), ("-O2", "/corpus/m.bc"))
    copies = {"/corpus/m.bc": "/tmp/t/1-m.bc", "/corpus/m.thinlto.bc": "/tmp/t/2-m.thinlto.bc"}
    got = with_paths_replaced((task, [Path("/corpus/m.bc")], collections.OrderedDict(a="/corpus/m.bc")), copies)
    assert got[0] == _Task(_Module("m", Path("/tmp/t/1-m.bc"), "/tmp/t/2-m.thinlto.bc"), ("-O2", "/tmp/t/1-m.bc"))
    assert isinstance(got[0].module.bitcode, Path) and got[1] == [Path("/tmp/t/1-m.bc")]
    assert got[2] == collections.OrderedDict(a="/tmp/t/1-m.bc")


def test_values_without_declared_paths_are_passed_as_they_are():
    task = _Task(_Module("m", Path("/corpus/m.bc"), None), ("-O2",))
    assert with_paths_replaced(task, {"/elsewhere.bc": "/tmp/x"}) is task


def test_the_task_writes_the_bytes_and_leaves_shared_objects_alone(tmp_path):
    shared = {"policy": "/corpus/m.bc"}
    values = [Path("/corpus/m.bc"), shared, b"BC"]
    args = staged_values(values, 2, [("/corpus/m.bc", 2)], keep=[1], folder=tmp_path / "shipped")
    assert args[0] == tmp_path / "shipped" / "2-m.bc" and args[0].read_bytes() == b"BC"
    assert args[1] is shared and len(args) == 2
