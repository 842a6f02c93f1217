"""Make a corpus from a folder of `.bc` files and one command line for all (LLVM's make_corpus).

Every `*.bc` under the input folder (except ThinLTO `*.thinlto.bc` indexes)
is copied to `<output>/<relative path>.bc`; the shared command goes into
`global_command_override`, so no `.cmd` files are written. The command must be
cc1 arguments; a leading `-cc1` is added when missing (for example
`-O2` becomes `-cc1 -O2`). Files that are not LLVM bitcode are skipped and
reported.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.corpus.layout import (
    BITCODE_SUFFIX,
    THINLTO_SUFFIX,
    CorpusDescription,
    CorpusError,
    module_file,
    write_description,
)
from compiler_opt.llvm.bitcode import is_bitcode_file


@dataclass
class MakeResult:
    """Modules written and files skipped (path, reason)."""

    output: Path
    modules: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"made a corpus of {len(self.modules)} modules in {self.output}"]
        lines += [f"skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def make_corpus(input_dir: Path, output: Path, default_args: Sequence[str]) -> MakeResult:
    """Copy the bitcode files under `input_dir` into a corpus at `output` sharing `default_args`."""
    input_dir, output = Path(input_dir), Path(output)
    if not input_dir.is_dir():
        raise CorpusError(f"{input_dir}: not a folder; pass the folder holding the .bc files")
    args = list(default_args)
    if not args or args[0] != "-cc1":
        args.insert(0, "-cc1")
    result = MakeResult(output=output)
    for path in sorted(input_dir.rglob(f"*{BITCODE_SUFFIX}")):
        if path.name.endswith(THINLTO_SUFFIX) or not path.is_file():
            continue
        if output.resolve() in path.resolve().parents:
            continue
        if not is_bitcode_file(path):
            result.skipped.append((str(path), "not LLVM bitcode"))
            continue
        name = path.relative_to(input_dir).as_posix()[: -len(BITCODE_SUFFIX)]
        target = module_file(output, name, BITCODE_SUFFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.resolve() != path.resolve():
            shutil.copyfile(path, target)
        result.modules.append(name)
    if not result.modules:
        raise CorpusError(f"{input_dir}: no LLVM bitcode (.bc) files found")
    write_description(output, CorpusDescription(modules=result.modules, global_command_override=args))
    return result
