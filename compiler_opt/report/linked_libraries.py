"""The evaluation's `linked` list: each library with evaluated modules linked from both sides' objects.

A library is linked (`-shared -Wl,--gc-sections`) only when all its modules
were evaluated and compiled under both sides; the `.text` section bytes and
Berkeley text of the two shared libraries are reported. The others are
listed as skipped, with why, and a link that fails with its error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler_opt.collect.linked_size import link_library
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.report.compile_sides import object_path

__all__ = ["libraries_to_link", "link_libraries"]


def libraries_to_link(corpus: Corpus, modules: Sequence[ModuleSpec]) -> dict[str, tuple[set[str], int]]:
    """Each library with evaluated members: (those members, how many members it has in the corpus)."""
    if not corpus.libraries:
        raise MlgoError(
            f'{corpus.root}: the corpus records no libraries (no "libraries" in '
            "corpus_description.json), so there is nothing to link; leave out --linked"
        )
    names = {spec.name for spec in modules}
    return {
        library: (set(members) & names, len(members))
        for library, members in sorted(corpus.libraries.items())
        if set(members) & names
    }


def link_libraries(
    toolchain: Toolchain, libraries: Mapping[str, tuple[set[str], int]], entries: list[dict], objects: Path
) -> list[dict]:
    """Link every library whose modules all compiled under both; the others are listed as skipped, with why."""
    ok = {entry["name"] for entry in entries if entry["ok"]}
    linked = []
    for library, (members, size) in libraries.items():
        usable = sorted(members & ok)
        entry = {"library": library, "modules": len(usable), "default": None, "policy": None, "ratio": None}
        if len(usable) < size:
            # A part of a library does not link (its hidden symbols are defined in the missing objects).
            entry["skipped"] = (
                f"{len(usable)} of its {size} modules evaluated and compiled under both; "
                "evaluate the whole library to link it"
            )
            linked.append(entry)
            continue
        sizes = {}
        try:
            for side in ("default", "policy"):
                output = objects / f"lib{library.replace('/', '__')}.{side}.so"
                sizes[side] = link_library(
                    toolchain,
                    [object_path(objects / side, name) for name in usable],
                    output,
                    name=f"library {library} ({side})",
                )
        except LinkError as error:
            linked.append({**entry, "error": str(error)})
            continue
        default, policy = sizes["default"].text_section, sizes["policy"].text_section
        linked.append(
            {
                **entry,
                "default": default,
                "policy": policy,
                "ratio": policy / default if default else None,
                "default_text": sizes["default"].text,
                "policy_text": sizes["policy"].text,
            }
        )
    return linked
