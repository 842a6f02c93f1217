"""The sample-corpus recipe: which pinned sources to compile, how, and into which library.

`sample_recipe.json` holds:

- `flags`: driver flags for every file (`common`) and per language (`c`, `c++`);
- `packages`: PyPI source distributions, each `{"version", "sha256", "archive"}`;
- `libraries`: a list of `{"name", "package", "root", "files", "exclude",
  "include", "defines", "flags", "small"}`. `root` is a folder of the unpacked
  archive; `files`, `exclude` and `small` are globs relative to it (`small`
  picks the files of the `--size small` variant; an empty `small` leaves the
  library out of it); `include` folders are relative to `root`; `generate`
  maps header names to their text, for headers a configure step would write
  (they go to a separate folder searched first). The modules of one library
  link together into one shared object.

Each file `root/<dir>/<stem>.<ext>` becomes module `<name>/<dir>/<stem>`; `.c`
files are C, `.cc`/`.cpp`/`.cxx` files C++.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.corpus.layout import CorpusError

DEFAULT_RECIPE = Path(__file__).with_name("sample_recipe.json")
SIZES = ("small", "full")
LANGUAGES = {".c": "c", ".cc": "c++", ".cpp": "c++", ".cxx": "c++"}
_LIBRARY_KEYS = {
    "name",
    "package",
    "root",
    "files",
    "exclude",
    "include",
    "defines",
    "flags",
    "small",
    "generate",
    "note",
}


@dataclass(frozen=True)
class Package:
    """A pinned source distribution on PyPI."""

    name: str
    version: str
    sha256: str
    archive: str


@dataclass(frozen=True)
class CompileStep:
    """One source file to compile into one module of one library."""

    library: str
    module: str
    source: Path
    language: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe and the bytes it came from (its cache key)."""

    data: dict
    text: bytes
    path: Path

    @property
    def packages(self) -> dict[str, Package]:
        return {
            name: Package(name=name, version=p["version"], sha256=p["sha256"].lower(), archive=p["archive"])
            for name, p in self.data["packages"].items()
        }

    def packages_for(self, size: str) -> list[Package]:
        """The packages the `size` variant needs."""
        needed = {lib["package"] for lib in self.data["libraries"] if size == "full" or lib.get("small")}
        return [package for name, package in self.packages.items() if name in needed]

    def plan(self, size: str, sources: dict[str, Path], generated: Path) -> list[CompileStep]:
        """The compile steps of the `size` variant; `sources` maps package name to its unpacked folder.

        Generated headers are written under `generated/<library>/`.
        """
        steps: list[CompileStep] = []
        flags = self.data.get("flags", {})
        for lib in self.data["libraries"]:
            patterns = lib["files"] if size == "full" else lib.get("small", [])
            if not patterns:
                continue
            root = sources[lib["package"]] / lib["root"]
            if not root.is_dir():
                raise CorpusError(f"recipe {self.path}: library {lib['name']}: {lib['root']} is not in the archive")
            excluded = {p for pattern in lib.get("exclude", []) for p in root.glob(pattern)}
            files = sorted({p for pattern in patterns for p in root.glob(pattern)} - excluded)
            if not files:
                raise CorpusError(f"recipe {self.path}: library {lib['name']}: {patterns} match no file")
            include = [f"-I{root / folder}" for folder in lib.get("include", [])]
            if lib.get("generate"):
                headers = generated / lib["name"]
                for name, text in lib["generate"].items():
                    (headers / name).parent.mkdir(parents=True, exist_ok=True)
                    (headers / name).write_text(text)
                include.insert(0, f"-I{headers}")
            defines = [f"-D{define}" for define in lib.get("defines", [])]
            for source in files:
                language = LANGUAGES.get(source.suffix)
                if language is None:
                    raise CorpusError(f"recipe {self.path}: {source}: unknown language (not .c/.cc/.cpp/.cxx)")
                relative = source.relative_to(root).with_suffix("").as_posix()
                args = (
                    *flags.get("common", []),
                    *flags.get(language, []),
                    *lib.get("flags", []),
                    *include,
                    *defines,
                )
                steps.append(CompileStep(lib["name"], f"{lib['name']}/{relative}", source, language, args))
        return steps


def load_recipe(path: Path | None = None) -> Recipe:
    """Read and check a recipe (default: the pinned one shipped with the project)."""
    path = Path(path) if path is not None else DEFAULT_RECIPE
    try:
        text = path.read_bytes()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f"recipe {path}: cannot read it ({error})") from error
    _check(path, data)
    return Recipe(data=data, text=text, path=path)


def _check(path: Path, data: dict) -> None:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("packages"), dict)
        or not isinstance(data.get("libraries"), list)
    ):
        raise CorpusError(f'recipe {path}: expected an object with "packages" and "libraries"')
    for name, package in data["packages"].items():
        missing = {"version", "sha256", "archive"} - set(package)
        if missing:
            raise CorpusError(f"recipe {path}: package {name} lacks {', '.join(sorted(missing))}")
    names = set()
    for lib in data["libraries"]:
        unknown = set(lib) - _LIBRARY_KEYS
        if unknown or not {"name", "package", "root", "files"} <= set(lib):
            raise CorpusError(
                f"recipe {path}: library {lib.get('name')!r} has unknown keys {sorted(unknown)} "
                "or lacks one of name, package, root, files"
            )
        if lib["package"] not in data["packages"]:
            raise CorpusError(f"recipe {path}: library {lib['name']} uses unknown package {lib['package']}")
        if lib["name"] in names or "/" in lib["name"]:
            raise CorpusError(f"recipe {path}: library name {lib['name']!r} repeated or contains '/'")
        names.add(lib["name"])
