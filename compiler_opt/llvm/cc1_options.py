"""Clang's own cc1 option table: which options take a value, and how.

The sanitizer of untrusted command lines (`compiler_opt.llvm.cmdline`) must
know, for every argument, whether clang reads the next argument as its value:
guessing wrong lets a value slip through unchecked or makes it look like an
input. This module answers from clang's option table, not from a hand list:
`cc1_options.json` beside it is generated from the installed clangs by

    python -m compiler_opt.llvm.cc1_options clang-19 clang-22 > compiler_opt/llvm/cc1_options.json

which reads `clang -cc1 --help` (every cc1 option that has help text, with its
value's spelling: `-o <file>` separate, `-std=<value>` or `-O<value>` joined,
`-fmath-errno` none; and whether the help calls the value a file or folder) and asks clang itself about the other names its driver
knows (`--help-hidden`, `--autocomplete=-`): `clang -cc1 NAME` answers
"argument to 'NAME' is missing" for an option with a separate value. Tests
check the shipped table against every installed clang.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from compiler_opt.llvm.run import run_captured

Kind = Literal["separate", "joined", "flag", "unknown"]

_TABLE_FILE = "cc1_options.json"
# `  -name <meta> help`, `  -name=<meta>`, `  -O<meta>`, `  -flag   help`.
_HELP_LINE = re.compile(r"^  (-[^\s<]+)(<[^>]*>\S*)?( <[^>]*>\S*)?(?:\s|$)")
# How clang's help spells a value that is a file or folder name.
_FILE_METAVAR = re.compile(r"<(file|filename|dir|directory|path)>")


@dataclass(frozen=True)
class OptionMatch:
    """What one argument is in clang's table: the option's name, its kind, and a joined value."""

    name: str
    kind: Kind
    joined_value: str | None = None


@dataclass(frozen=True)
class OptionTable:
    """cc1 option names by how they take a value, and those whose value clang's help calls a file or folder."""

    separate: frozenset[str]
    joined: frozenset[str]
    flags: frozenset[str]
    file_valued: frozenset[str] = frozenset()

    @functools.cached_property
    def _prefixes(self) -> tuple[str, ...]:
        # Longest first: `-fvisibility-inlines-hidden` before `-fvisibility=`, `-mllvm` before `-m`.
        return tuple(sorted(self.joined | self.separate, key=len, reverse=True))

    def match(self, arg: str) -> OptionMatch:
        """How clang reads `arg` when it stands where an option may.

        An exact separate-value name takes the next argument; an exact flag
        takes none; otherwise the longest option name `arg` starts with gives
        a joined value (a separate option's name with text after it is read
        as its joined form, which clang accepts for `-I`, `-D` and others and
        which is the cautious reading for the rest). Anything else is unknown,
        named up to and including its first `=`, after which is its value.
        """
        if arg in self.separate:
            return OptionMatch(arg, "separate")
        if arg in self.flags:
            return OptionMatch(arg, "flag")
        for name in self._prefixes:
            if arg.startswith(name) and len(arg) > len(name):
                return OptionMatch(name, "joined", arg[len(name) :])
        if arg in self.joined:
            return OptionMatch(arg, "joined", "")
        name, equals, value = arg.partition("=")
        return OptionMatch(name + equals, "unknown", value if equals else None)

    def to_json(self, sources: Sequence[str]) -> str:
        return (
            json.dumps(
                {
                    "generated_from": list(sources),
                    "separate": sorted(self.separate),
                    "joined": sorted(self.joined),
                    "flags": sorted(self.flags),
                    "file_valued": sorted(self.file_valued),
                },
                indent=0,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> OptionTable:
        data = json.loads(text)
        return cls(
            frozenset(data["separate"]),
            frozenset(data["joined"]),
            frozenset(data["flags"]),
            frozenset(data["file_valued"]),
        )

    def union(self, other: OptionTable) -> OptionTable:
        """Both tables' options; a name that takes a separate value in either takes one here."""
        separate = self.separate | other.separate
        return OptionTable(
            separate,
            (self.joined | other.joined),
            (self.flags | other.flags) - separate,
            self.file_valued | other.file_valued,
        )


@functools.lru_cache(maxsize=1)
def shipped_table() -> OptionTable:
    """The table generated from the clang releases named in its `generated_from`."""
    return OptionTable.from_json(resources.files(__package__).joinpath(_TABLE_FILE).read_text())


def parse_help(text: str) -> OptionTable:
    """The options `clang -cc1 --help` lists, by the spelling of their values."""
    separate, joined, flags, file_valued = set(), set(), set(), set()
    for line in text.splitlines():
        found = _HELP_LINE.match(line)
        if not found:
            continue
        name, joined_meta, separate_meta = found.groups()
        if _FILE_METAVAR.search((joined_meta or "") + (separate_meta or "")):
            file_valued.add(name)
        if joined_meta:
            joined.add(name)
            if separate_meta:  # `-plugin-arg-<name> <arg>`: a joined part and a separate value
                separate.add(name)
        elif separate_meta:
            separate.add(name)
        elif name.endswith("="):
            joined.add(name)
        else:
            flags.add(name)
    return OptionTable(frozenset(separate), frozenset(joined), frozenset(flags - separate), frozenset(file_valued))


def probe_option(clang: str, name: str) -> Kind:
    """Ask clang how its cc1 reads `name` alone: "separate", "joined", "flag" or "unknown"."""
    result = run_captured([clang, "-cc1", name], timeout=30)
    stderr = result.stderr.decode("utf-8", "replace")
    if "unknown argument" in stderr:
        return "unknown"
    if f"argument to '{name}' is missing" in stderr:
        return "separate"
    return "joined" if name.endswith("=") else "flag"


def table_of(clang: str) -> OptionTable:
    """The cc1 option table of `clang`: its help, completed by probing the driver's other names."""
    help_table = parse_help(_output([clang, "-cc1", "--help"]))
    known = help_table.separate | help_table.joined | help_table.flags
    driver = parse_help(_output([clang, "--help-hidden"]))
    candidates = driver.separate | driver.joined | driver.flags
    candidates |= {line.split("\t", 1)[0] for line in _output([clang, "--autocomplete=-"]).splitlines()}
    separate, joined, flags = set(help_table.separate), set(help_table.joined), set(help_table.flags)
    for name in sorted(n for n in candidates - known if n.startswith("-")):
        kind = probe_option(clang, name)
        {"separate": separate, "joined": joined, "flag": flags}.get(kind, set()).add(name)
    return OptionTable(
        frozenset(separate), frozenset(joined), frozenset(flags - separate), help_table.file_valued | driver.file_valued
    )


def _output(argv: list[str]) -> str:
    return run_captured(argv, timeout=60).stdout.decode("utf-8", "replace")


def main(clangs: Iterable[str]) -> int:
    """Print the union table of `clangs` as the JSON `shipped_table` reads."""
    table, sources = None, []
    for clang in clangs:
        one = table_of(clang)
        table = one if table is None else table.union(one)
        sources.append(_output([clang, "--version"]).splitlines()[0])
    if table is None:
        print("usage: python -m compiler_opt.llvm.cc1_options CLANG [CLANG...]", file=sys.stderr)
        return 2
    sys.stdout.write(table.to_json(sources))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
