"""Fuzzing the sanitizer of untrusted command lines with clang's real option table (Hypothesis).

Argument lists are built from the options the installed clang's cc1 lists
(`clang -cc1 --help`: each with its real way of taking a value) mixed with
hostile values (response files, paths elsewhere on the machine, options
hidden in value slots). One invariant is checked on whatever survives
sanitizing, read the way clang reads it: no response file, no input of its
own, no code loading, no option whose value clang's help calls a file or
directory, and no path anywhere except in options that only record a name.
A second test runs the real clang on survivors next to a planted shared
library and checks that it was never loaded and nothing was written outside
the job's folder. Seeds are fixed (derandomized) and example counts bounded.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler_opt.llvm.cmdline import CompileCommand, UnsafeCommandLine, sanitize_cc1
from tests.llvm.test_versions import INSTALLED
from tests.security.test_hostile_corpus import plant_library

# `  -name <meta>`, `  -name=<meta>`, `  -name<meta>`, `  -flag`: clang's own help, parsed here independently.
_HELP = re.compile(r"^  (-[^\s<]+)(<[^>]*>)?\S*( <([^>]*)>)?")
# Options that only record their value as text (debug info): a path there is a name, not a file.
TEXT_ONLY = {
    "-main-file-name",
    "-fdebug-compilation-dir",
    "-fdebug-compilation-dir=",
    "-fcoverage-compilation-dir=",
    "-ffile-compilation-dir=",
    "-fdebug-prefix-map=",
    "-fmacro-prefix-map=",
    "-fcoverage-prefix-map=",
    "-ffile-prefix-map=",
    "-fprofile-prefix-map=",
    "-dwarf-debug-flags",
    "-record-command-line",
    "-split-dwarf-file",
    "-object-file-name=",
}
FILE_METAVARS = {"file", "dir", "directory", "path", "filename"}


@dataclass(frozen=True)
class HelpTable:
    """The installed clang's cc1 options: separate-value names (with metavar), joined names, flags."""

    separate: dict[str, str]
    joined: tuple[str, ...]
    flags: tuple[str, ...]


@pytest.fixture(scope="module", params=INSTALLED)
def help_table(request) -> HelpTable:
    """The cc1 options of each installed clang >= 17 in turn."""
    text = subprocess.run([request.param, "-cc1", "--help"], capture_output=True, text=True).stdout
    separate, joined, flags = {}, set(), set()
    for line in text.splitlines():
        found = _HELP.match(line)
        if not found:
            continue
        name, joined_meta, separate_part, separate_meta = found.groups()
        if separate_part:
            separate[name] = separate_meta
        elif joined_meta or name.endswith("="):
            joined.add(name)
        else:
            flags.add(name)
    assert len(separate) > 50 and len(joined) > 100 and len(flags) > 500, "clang -cc1 --help changed its format"
    return HelpTable(separate, tuple(sorted(joined)), tuple(sorted(flags - set(separate))))


def hostile_values(planted: Path) -> list[str]:
    return [
        f"@{planted}/evil.rsp",
        "@evil.rsp",
        f"{planted}/evil.so",
        "/etc/passwd",
        "../../etc/shadow",
        "./evil.so",
        "evil.so",
        "-load",
        f"-load={planted}/evil.so",
        f"-fpass-plugin={planted}/evil.so",
        "-o",
        f"{planted}/outside/written",
        "-mllvm",
        "x86_64-pc-linux-gnu",
        "1",
        "",
        "-Oz",
        "a=b",
        f"-I{planted}",
    ]


def argument_lists(table: HelpTable, values: list[str]) -> st.SearchStrategy[list[str]]:
    """`-cc1` followed by options from the table, with hostile or plain values in every slot."""
    value = st.sampled_from(values)
    item = st.one_of(
        st.tuples(st.sampled_from(sorted(table.separate)), value).map(list),
        st.tuples(st.sampled_from(table.joined), value).map(lambda pair: [pair[0] + pair[1]]),
        st.sampled_from(table.flags).map(lambda flag: [flag]),
        st.tuples(
            st.just("-mllvm"),
            st.sampled_from(
                ["-inline-threshold=100", "-load", f"-x={values[2]}", "-info-output-file=/tmp/x", values[0]]
            ),
        ).map(list),
        value.map(lambda v: [v]),
    )
    return st.lists(item, max_size=12).map(lambda items: ["-cc1"] + [arg for part in items for arg in part])


def check_invariant(table: HelpTable, survivors: list[str]) -> None:
    """What survives sanitizing, read as clang reads it, names no file outside the job and loads nothing."""
    index = 1
    while index < len(survivors):
        arg = survivors[index]
        assert not arg.startswith("@"), f"response file survived: {survivors}"
        assert arg.startswith("-"), f"an input of the line's own survived: {arg!r} in {survivors}"
        assert not re.match(r"-(load|plugin|add-plugin|fpass-plugin|load-pass-plugin|fplugin)\b", arg), survivors
        assert arg not in ("-mlink-bitcode-file", "-mlink-builtin-bitcode"), survivors
        name, value = arg, None
        if arg in table.separate:
            value = survivors[index + 1]
            assert table.separate[arg] not in FILE_METAVARS or arg in TEXT_ONLY, f"file option survived: {survivors}"
            index += 2
        else:
            name = next((j for j in table.joined if arg.startswith(j)), arg)
            value = arg[len(name) :] if name != arg else None
            index += 1
        if name == "-mllvm":
            assert "/" not in value and not value.startswith(("@", "-load")), survivors
        elif name not in TEXT_ONLY:
            assert "/" not in arg and (value is None or "/" not in value), f"path survived in {name}: {survivors}"
        assert value is None or not value.startswith("@"), survivors


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A folder outside any job holding a real shared library (writes `marker` when loaded) and a response file."""
    folder = tmp_path_factory.mktemp("planted")
    plant_library(folder)
    (folder / "evil.rsp").write_text(f"-load {folder / 'evil.so'}\n")
    (folder / "outside").mkdir()
    return folder


@settings(
    max_examples=4000, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_survivors_name_no_outside_file_and_load_nothing(help_table, planted, data):
    args = data.draw(argument_lists(help_table, hostile_values(planted)))
    try:
        survivors = sanitize_cc1(args, "fuzz")
    except UnsafeCommandLine as error:
        assert str(error).startswith("fuzz: ")
        return
    check_invariant(help_table, survivors)


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_real_clang_never_loads_the_planted_library(help_table, planted, modules, toolchain, tmp_path, data):
    survivors = None
    while survivors is None:  # most hostile lists are refused; draw until one survives, to run it
        try:
            survivors = sanitize_cc1(data.draw(argument_lists(help_table, hostile_values(planted))), "fuzz")
        except UnsafeCommandLine:
            pass
    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    command = CompileCommand(str(toolchain.clang), tuple(survivors), str(modules["calls"].bitcode), True)
    subprocess.run(command.argv(job / "out.o"), cwd=job, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert not (planted / "marker").exists(), f"clang loaded the planted library with {survivors}"
    assert not any((planted / "outside").iterdir()), f"clang wrote outside the job with {survivors}"
