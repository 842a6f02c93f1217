"""The on-disk corpus layout shared with LLVM's mlgo-utils and google/ml-compiler-opt.

A corpus is a folder with `corpus_description.json`:

    {"modules": ["lib/a", "lib/b"],            # names relative to the folder
     "has_thinlto": false,                     # true: each module has <m>.thinlto.bc
     "global_command_override": ["-cc1", ...], # optional: replaces every <m>.cmd
     "libraries": {"lib": ["lib/a", "lib/b"]}, # optional, this project's extra key
     "programs": [...]}                        # optional, this project's too: see corpus/programs.py

and per module `<m>.bc` (IR), `<m>.cmd` (NUL-separated cc1 arguments) and, for
ThinLTO, `<m>.thinlto.bc` (the module's summary index). LLVM's tools ignore
keys they do not know, so `libraries` (which modules link into one shared
library, for measuring shipped size) and `programs` travel safely. A `global_command_override`
of `["<UNSPECIFIED>"]` is the placeholder LLVM's extract_ir writes for local
ThinLTO builds: the user must fill it in before the corpus is used.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.errors import MlgoError

DESCRIPTION_FILE = "corpus_description.json"
BITCODE_SUFFIX = ".bc"
COMMAND_SUFFIX = ".cmd"
THINLTO_SUFFIX = ".thinlto.bc"
UNSPECIFIED_OVERRIDE = "<UNSPECIFIED>"
# This project's optional key: the corpus's runnable programs (`compiler_opt.corpus.programs`).
PROGRAMS_KEY = "programs"


class CorpusError(MlgoError):
    """A corpus that cannot be read or written as asked; the message names the culprit."""


@dataclass
class CorpusDescription:
    """The content of `corpus_description.json`."""

    modules: list[str]
    has_thinlto: bool = False
    global_command_override: list[str] | None = None
    libraries: dict[str, list[str]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data: dict = {"modules": list(self.modules), "has_thinlto": self.has_thinlto}
        if self.global_command_override is not None:
            data["global_command_override"] = list(self.global_command_override)
        if self.libraries:
            data["libraries"] = {name: list(members) for name, members in sorted(self.libraries.items())}
        data.update(self.extra)
        return data


def module_file(root: Path, module: str, suffix: str) -> Path:
    """The path of one of `module`'s files (`suffix` is `.bc`, `.cmd` or `.thinlto.bc`)."""
    return Path(root) / (module + suffix)


def name_escapes(module: str) -> bool:
    """Whether a module name is absolute or climbs out of the corpus folder."""
    if not module or module.startswith(("/", "\\")) or os.path.isabs(module):
        return True
    parts = module.replace("\\", "/").split("/")
    return ".." in parts or any(part == "" for part in parts)


def read_description(root: Path) -> CorpusDescription:
    """Parse `root/corpus_description.json`, checking its shape (not the module files)."""
    path = Path(root) / DESCRIPTION_FILE
    if not path.is_file():
        raise CorpusError(
            f"{root}: no {DESCRIPTION_FILE}; point at a corpus folder (make one with `mlgo corpus extract` "
            "or `mlgo corpus make`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f"{path}: not valid JSON ({error}); rewrite it or extract the corpus again") from error
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        raise CorpusError(f'{path}: expected an object with a "modules" list')
    modules = data.pop("modules")
    if not all(isinstance(name, str) for name in modules):
        raise CorpusError(f'{path}: every entry of "modules" must be a string')
    has_thinlto = data.pop("has_thinlto", False)
    if not isinstance(has_thinlto, bool):
        raise CorpusError(f'{path}: "has_thinlto" must be true or false')
    override = data.pop("global_command_override", None)
    if override is not None and (not isinstance(override, list) or not all(isinstance(arg, str) for arg in override)):
        raise CorpusError(f'{path}: "global_command_override" must be a list of strings')
    libraries = data.pop("libraries", {})
    if not isinstance(libraries, dict) or not all(
        isinstance(members, list) and all(isinstance(m, str) for m in members) for members in libraries.values()
    ):
        raise CorpusError(f'{path}: "libraries" must map library names to lists of module names')
    return CorpusDescription(
        modules=modules,
        has_thinlto=has_thinlto,
        global_command_override=override,
        libraries=libraries,
        extra=data,
    )


def write_description(root: Path, description: CorpusDescription) -> Path:
    """Write `root/corpus_description.json` atomically (a crash leaves the old one)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / DESCRIPTION_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(description.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path
