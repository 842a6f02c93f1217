"""Combine the corpora in the sub-folders of one root into one corpus (LLVM's combine_training_corpus).

`root/a/corpus_description.json` and `root/b/corpus_description.json` become
`root/corpus_description.json` listing `a/<module>` and `b/<module>`; the
files stay where they are. The corpora must agree on everything but their
modules and libraries (`has_thinlto`, `global_command_override`, other keys);
a difference is refused with a message naming the key and both corpora.
Library names are prefixed with their sub-folder (`a/<library>`).
"""

from __future__ import annotations

from pathlib import Path

from compiler_opt.corpus.layout import (
    DESCRIPTION_FILE,
    CorpusDescription,
    CorpusError,
    read_description,
    write_description,
)


def combine_corpora(root: Path) -> CorpusDescription:
    """Write `root/corpus_description.json` merging every `root/*/corpus_description.json`."""
    root = Path(root)
    parts = sorted(path.parent for path in root.glob(f"*/{DESCRIPTION_FILE}"))
    if not parts:
        raise CorpusError(f"{root}: no sub-folder holds a {DESCRIPTION_FILE}; put each corpus in its own sub-folder")
    combined: CorpusDescription | None = None
    first = parts[0]
    modules: list[str] = []
    libraries: dict[str, list[str]] = {}
    for part in parts:
        description = read_description(part)
        if combined is None:
            combined = description
        else:
            _check_same(first, combined, part, description)
        modules += [f"{part.name}/{name}" for name in description.modules]
        for library, members in description.libraries.items():
            libraries[f"{part.name}/{library}"] = [f"{part.name}/{name}" for name in members]
    assert combined is not None
    result = CorpusDescription(
        modules=modules,
        has_thinlto=combined.has_thinlto,
        global_command_override=combined.global_command_override,
        libraries=libraries,
        extra=combined.extra,
    )
    write_description(root, result)
    return result


def _check_same(first: Path, a: CorpusDescription, other: Path, b: CorpusDescription) -> None:
    settings = (
        ("has_thinlto", a.has_thinlto, b.has_thinlto),
        ("global_command_override", a.global_command_override, b.global_command_override),
    )
    differences = [(key, x, y) for key, x, y in settings if x != y]
    for key in sorted(set(a.extra) | set(b.extra)):
        if a.extra.get(key) != b.extra.get(key):
            differences.append((key, a.extra.get(key), b.extra.get(key)))
    if differences:
        key, x, y = differences[0]
        raise CorpusError(
            f"cannot combine {first.name} and {other.name}: they differ in {key!r} ({x!r} vs {y!r}); "
            "combine only corpora built the same way"
        )
