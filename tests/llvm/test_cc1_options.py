"""The shipped cc1 option table against the installed clangs' own tables."""

from __future__ import annotations

import subprocess

import pytest

from compiler_opt.llvm.cc1_options import OptionMatch, parse_help, probe_option, shipped_table
from tests.llvm.test_versions import INSTALLED


@pytest.mark.parametrize("clang", INSTALLED)
def test_shipped_table_reads_values_as_this_clang_does(clang):
    """Every option this clang's help lists takes a value in the shipped table exactly when it does here.

    A mismatch means the table is stale for this release: regenerate it
    (`python -m compiler_opt.llvm.cc1_options clang-19 clang-22 ...`, see the module docstring).
    """
    help_text = subprocess.run([clang, "-cc1", "--help"], capture_output=True, text=True, check=True).stdout
    installed = parse_help(help_text)
    shipped = shipped_table()
    assert installed.separate <= shipped.separate, sorted(installed.separate - shipped.separate)
    assert installed.joined <= shipped.joined, sorted(installed.joined - shipped.joined)
    assert not (installed.flags & shipped.separate), sorted(installed.flags & shipped.separate)
    assert installed.file_valued <= shipped.file_valued, sorted(installed.file_valued - shipped.file_valued)


@pytest.mark.parametrize("clang", INSTALLED)
def test_probe_matches_the_help(clang):
    """Asking clang about a name agrees with its help for options of every kind (the probe fills the gaps)."""
    assert probe_option(clang, "-triple") == "separate"
    assert probe_option(clang, "-resource-dir") == "separate"  # not in `-cc1 --help`, found by probing
    assert probe_option(clang, "-fmath-errno") == "flag"
    assert probe_option(clang, "-no-such-option-anywhere") == "unknown"
    assert "-resource-dir" in shipped_table().separate


def test_parse_help_reads_each_spelling():
    table = parse_help(
        "OPTIONS:\n"
        "  -D <macro>=<value>      Define <macro>\n"
        "  -O<value>               Optimization level\n"
        "  -std=<value>            Language standard\n"
        "  -analyze-function <value>\n"
        "                          Run analysis\n"
        "  -plugin-arg-<name> <arg>\n"
        "  -fmath-errno            Require math functions to set errno\n"
        "  -include <file>         Include file before parsing\n"
        "  -fmodule-map-file=<file>\n"
    )
    assert table.separate == {"-D", "-analyze-function", "-plugin-arg-", "-include"}
    assert table.joined == {"-O", "-std=", "-plugin-arg-", "-fmodule-map-file="}
    assert table.flags == {"-fmath-errno"}
    assert table.file_valued == {"-include", "-fmodule-map-file="}
    assert table.match("-Dname=1").name == "-D" and table.match("-Dname=1").joined_value == "name=1"
    assert table.match("-fmath-errno").kind == "flag" and table.match("-D").kind == "separate"
    assert table.match("-fnew=/x") == OptionMatch("-fnew=", "unknown", "/x")
