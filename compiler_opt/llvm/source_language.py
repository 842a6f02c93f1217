"""A `-cc1` compile's source language (`c`, `c++` or `other`), from the main file's name clang records.

Corpus modules (`ModuleSpec.language`), the drop-in compiler's jobs and
policies per language (`compiler_opt.policy.by_language`) all tell a
compile's language this way.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LANGUAGES", "source_language"]

LANGUAGES = ("c", "c++", "other")
_CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".C", ".c++")


def source_language(cc1_args: Sequence[str]) -> str:
    """`c`, `c++` or `other`: the language of the compile `cc1_args`, from its `-main-file-name`."""
    main = ""
    for index, arg in enumerate(cc1_args[:-1]):
        if arg == "-main-file-name":
            main = cc1_args[index + 1]
    if main.endswith(_CXX_SUFFIXES):
        return "c++"
    return "c" if main.endswith(".c") else "other"
