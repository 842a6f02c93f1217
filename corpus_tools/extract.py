"""Extract a corpus from a build whose objects embed their IR (LLVM's extract_ir).

Objects are found through a `compile_commands.json` (each entry's `output` or
`-o`, relative to its `directory`), a linker parameters file (every argument
naming a `.o`/`.obj`), or a directory walk (`*.o`). Each object becomes module
`<path relative to the base folder, without .o>`:

- ordinary builds (`-Xclang -fembed-bitcode=all`): `.llvmbc` -> `<m>.bc`,
  `.llvmcmd` -> `<m>.cmd`;
- ThinLTO, distributed (backends run with `-mllvm -lto-embed-bitcode=post-merge-pre-opt`,
  `-Wl,-plugin-opt=...` through a linker): the same, plus the index
  `<object>.thinlto.bc` (or `X.o.thinlto.bc` for a backend output `X.native.o`)
  -> `<m>.thinlto.bc`;
- ThinLTO, local (lld `--save-temps=import --thinlto-emit-index-files`):
  `<object>.3.import.bc` -> `<m>.bc`, `<object>.thinlto.bc` -> `<m>.thinlto.bc`;
  there is no per-module command, so `global_command_override` is the one the
  user passes or LLVM's `<UNSPECIFIED>` placeholder, to be filled in.

One bad object never stops the others: it is skipped with a reason, and the
description lists every module extracted, even when the run is interrupted.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.corpus.layout import (
    BITCODE_SUFFIX,
    COMMAND_SUFFIX,
    THINLTO_SUFFIX,
    UNSPECIFIED_OVERRIDE,
    CorpusDescription,
    CorpusError,
    module_file,
    name_escapes,
    write_description,
)
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.bitcode import BitcodeError, NoEmbeddedBitcode, dump_embedded, is_bitcode_file
from compiler_opt.llvm.cmdline import read_cmd_file
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.progress import progress

THINLTO_MODES = ("local", "distributed")
OBJECT_SUFFIXES = (".o", ".obj")
ASSEMBLY_SUFFIXES = (".s", ".S", ".asm", ".sx")
LOCAL_THINLTO_BITCODE = ".3.import.bc"
NATIVE_SUFFIX = ".native.o"

SKIP_ASSEMBLY = "assembly source"
SKIP_NO_SECTIONS = "no embedded sections"
SKIP_UNREADABLE = "unreadable object"
SKIP_MISSING = "missing file"
SKIP_FILTERED = "command line does not match --cmd-filter"
SKIP_OUTSIDE = "outside the base folder"
SKIP_DUPLICATE = "duplicate module name"
SKIP_FAILED = "could not be extracted"


@dataclass(frozen=True)
class ObjectInput:
    """One object of a build: where it is, the module name it gets, its source if known."""

    path: Path
    module: str
    source: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An object that gave no module, and why."""

    object: str
    reason: str
    detail: str = ""


@dataclass
class ExtractResult:
    """What one extraction wrote and what it skipped."""

    output: Path
    modules: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        """One line per outcome: modules written, then skipped objects counted by reason."""
        lines = [f"extracted {len(self.modules)} modules into {self.output}"]
        counts: dict[str, list[Skipped]] = {}
        for item in self.skipped:
            counts.setdefault(item.reason, []).append(item)
        for reason, items in sorted(counts.items()):
            example = items[0]
            detail = f": {example.detail}" if example.detail else ""
            lines.append(f"skipped {len(items)} ({reason}), e.g. {example.object}{detail}")
        return "\n".join(lines)


def module_name(obj: Path, base: Path) -> str:
    """`obj` relative to `base` with `/` separators and without its object suffix."""
    relative = os.path.relpath(os.path.abspath(obj), os.path.abspath(base)).replace(os.sep, "/")
    for suffix in OBJECT_SUFFIXES:
        if relative.endswith(suffix) and len(relative) > len(suffix):
            return relative[: -len(suffix)]
    return relative


def objects_from_compile_commands(path: Path, base: Path | None = None) -> list[ObjectInput]:
    """The objects a `compile_commands.json` says it builds; names are relative to `base`
    (default: the folder holding the file)."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f"{path}: cannot read the compilation database ({error})") from error
    if not isinstance(entries, list):
        raise CorpusError(f"{path}: a compilation database is a JSON list of entries")
    base = Path(base) if base is not None else path.parent
    objects = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "directory" not in entry or "file" not in entry:
            raise CorpusError(f'{path}: entry {number} lacks "directory" or "file"')
        arguments = entry.get("arguments") or shlex.split(entry.get("command", ""))
        output = entry.get("output") or _option_value(arguments, "-o")
        if output is None:
            raise CorpusError(f"{path}: entry {number} ({entry['file']}) names no output (-o); cannot find its object")
        obj = Path(entry["directory"]) / output
        objects.append(ObjectInput(path=obj, module=module_name(obj, base), source=entry["file"]))
    return objects


def objects_from_params(path: Path, base: Path | None = None) -> list[ObjectInput]:
    """The objects listed in a linker parameters (response) file, relative to `base`
    (default: the folder holding the file)."""
    path = Path(path)
    try:
        tokens = shlex.split(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CorpusError(f"{path}: cannot read the linker parameters file ({error})") from error
    base = Path(base) if base is not None else path.parent
    objects = []
    for previous, token in zip([""] + tokens, tokens):
        if previous == "-o" or token.startswith("-") or not token.endswith(OBJECT_SUFFIXES):
            continue
        obj = Path(token) if os.path.isabs(token) else base / token
        objects.append(ObjectInput(path=obj, module=module_name(obj, base)))
    return objects


def objects_from_directory(root: Path) -> list[ObjectInput]:
    """Every `*.o`/`*.obj` under `root`, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder; pass the build folder to walk")
    found = sorted(p for suffix in OBJECT_SUFFIXES for p in root.rglob(f"*{suffix}") if p.is_file())
    return [ObjectInput(path=p, module=module_name(p, root)) for p in found]


def extract(
    objects: Sequence[ObjectInput],
    output: Path,
    *,
    toolchain: Toolchain,
    thinlto: str | None = None,
    cmd_filter: str | None = None,
    command_override: Sequence[str] | None = None,
    libraries: dict[str, list[str]] | None = None,
    jobs: int | None = None,
) -> ExtractResult:
    """Extract `objects` into the corpus folder `output` and write its description."""
    if thinlto not in (None, *THINLTO_MODES):
        raise CorpusError(f"unknown ThinLTO mode {thinlto!r}; use one of {', '.join(THINLTO_MODES)}")
    if thinlto == "local" and cmd_filter is not None:
        raise CorpusError("--cmd-filter needs per-module command lines, which local ThinLTO builds do not keep")
    pattern = _compile_filter(cmd_filter)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    result = ExtractResult(output=output)
    unique = _unique_objects(objects, result)
    override = list(command_override) if command_override else None
    if thinlto == "local" and override is None:
        override = [UNSPECIFIED_OVERRIDE]
    workers = max(1, jobs or os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_extract_one, toolchain, item, output, thinlto, pattern): item for item in unique}
            for future in progress(as_completed(futures), total=len(futures), desc="extract", unit="obj"):
                try:
                    outcome = future.result()
                except (OSError, MlgoError) as error:
                    outcome = Skipped(str(futures[future].path), SKIP_FAILED, str(error))
                if isinstance(outcome, Skipped):
                    result.skipped.append(outcome)
                else:
                    result.modules.append(outcome)
    finally:
        result.modules.sort()
        kept = set(result.modules)
        write_description(
            output,
            CorpusDescription(
                modules=result.modules,
                has_thinlto=thinlto is not None,
                global_command_override=override,
                libraries={name: [m for m in members if m in kept] for name, members in (libraries or {}).items()},
            ),
        )
    return result


def _unique_objects(objects: Iterable[ObjectInput], result: ExtractResult) -> list[ObjectInput]:
    unique: dict[str, ObjectInput] = {}
    for item in objects:
        if name_escapes(item.module):
            result.skipped.append(Skipped(str(item.path), SKIP_OUTSIDE, "pass a base folder that contains it"))
        elif item.module in unique:
            if Path(unique[item.module].path).resolve() != Path(item.path).resolve():
                result.skipped.append(Skipped(str(item.path), SKIP_DUPLICATE, item.module))
        else:
            unique[item.module] = item
    return list(unique.values())


def _extract_one(
    toolchain: Toolchain, item: ObjectInput, output: Path, thinlto: str | None, pattern: re.Pattern | None
) -> str | Skipped:
    if item.source is not None and item.source.endswith(ASSEMBLY_SUFFIXES):
        return Skipped(str(item.path), SKIP_ASSEMBLY, item.source)
    if not Path(item.path).is_file():
        return Skipped(str(item.path), SKIP_MISSING, "the object was not built")
    bitcode = module_file(output, item.module, BITCODE_SUFFIX)
    command = module_file(output, item.module, COMMAND_SUFFIX)
    index = module_file(output, item.module, THINLTO_SUFFIX)
    bitcode.parent.mkdir(parents=True, exist_ok=True)
    source_index = _index_of(Path(item.path)) if thinlto is not None else None
    if thinlto is not None and source_index is None:
        return Skipped(str(item.path), SKIP_MISSING, f"no ThinLTO index {Path(item.path).name}{THINLTO_SUFFIX}")
    if thinlto == "local":
        imported = Path(str(item.path) + LOCAL_THINLTO_BITCODE)
        if not imported.is_file():
            return Skipped(str(item.path), SKIP_MISSING, f"no {imported.name} (link with -Wl,--save-temps=import)")
        if not is_bitcode_file(imported):
            return Skipped(str(item.path), SKIP_UNREADABLE, f"{imported.name} is not LLVM bitcode")
        shutil.copyfile(imported, bitcode)
    else:
        try:
            dump_embedded(toolchain, item.path, bitcode, command)
        except NoEmbeddedBitcode as error:
            return Skipped(str(item.path), SKIP_NO_SECTIONS, _detail(error))
        except BitcodeError as error:
            return Skipped(str(item.path), SKIP_UNREADABLE, _detail(error))
        if pattern is not None:
            try:
                matches = any(pattern.search(arg) for arg in read_cmd_file(command))
            except MlgoError as error:
                matches, failure = False, Skipped(str(item.path), SKIP_FAILED, _detail(error))
            else:
                failure = Skipped(str(item.path), SKIP_FILTERED)
            if not matches:
                bitcode.unlink(missing_ok=True)
                command.unlink(missing_ok=True)
                return failure
    if source_index is not None:
        shutil.copyfile(source_index, index)
    return item.module


def _index_of(obj: Path) -> Path | None:
    """The ThinLTO index of `obj`: `<obj>.thinlto.bc`, or for a distributed backend's
    `X.native.o` (the name LLVM's documentation uses), `X.o.thinlto.bc`."""
    candidates = [Path(str(obj) + THINLTO_SUFFIX)]
    if obj.name.endswith(NATIVE_SUFFIX):
        candidates.append(obj.with_name(obj.name[: -len(NATIVE_SUFFIX)] + ".o" + THINLTO_SUFFIX))
    return next((path for path in candidates if path.is_file()), None)


def _detail(error: Exception) -> str:
    text = str(error)
    return text.split(": ", 1)[1] if ": " in text else text


def _compile_filter(cmd_filter: str | None) -> re.Pattern | None:
    if cmd_filter is None:
        return None
    try:
        return re.compile(cmd_filter)
    except re.error as error:
        raise CorpusError(f"--cmd-filter {cmd_filter!r} is not a valid regular expression ({error})") from error


def _option_value(arguments: Sequence[str], option: str) -> str | None:
    for index, arg in enumerate(arguments):
        if arg == option and index + 1 < len(arguments):
            return arguments[index + 1]
    return None
