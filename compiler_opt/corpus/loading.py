"""Load and validate a corpus of LLVM IR modules.

The layout is LLVM's (see `compiler_opt.corpus.layout`). Loading checks every module
named in `corpus_description.json` (its `.bc` and `.cmd` exist, the command
starts with `-cc1` and passes `sanitize_cc1`, its name and its files stay
inside the corpus folder, links included, its ThinLTO index exists when the
corpus has ThinLTO) reading no more of each bitcode file than its 4-byte
magic. Module specs hold absolute real paths. ThinLTO modules are already merged
(they hold their imports), so their commands get `-thinlto-assume-merged`
and the corpus's index instead of the build's. A bad module is a `CorpusError` naming it, or, with
`skip_invalid=True`, an entry of `Corpus.invalid` and the rest loads.
`Corpus.sample` and `Corpus.split` choose modules as `compiler_opt.corpus.sampling`
and `compiler_opt.corpus.splitting` do: a corpus that records two libraries or
more splits by library, any other by module name.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from compiler_opt.corpus.layout import (
    BITCODE_SUFFIX,
    COMMAND_SUFFIX,
    DESCRIPTION_FILE,
    PROGRAMS_KEY,
    THINLTO_SUFFIX,
    UNSPECIFIED_OVERRIDE,
    CorpusError,
    module_file,
    name_escapes,
    read_description,
)
from compiler_opt.corpus.programs import held_out_libraries
from compiler_opt.corpus.sampling import stratified_sample
from compiler_opt.corpus.splitting import LIBRARY_SPLIT, MODULE_SPLIT, split_by_library, split_by_name
from compiler_opt.llvm.bitcode import is_bitcode_file, thinlto_backend_args
from compiler_opt.llvm.cmdline import CompileCommand, UnsafeCommandLine, read_cmd_file, sanitize_cc1
from compiler_opt.llvm.source_language import source_language

__all__ = ["Corpus", "CorpusError", "ModuleSpec", "load_corpus"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModuleSpec:
    """One module of a corpus, ready to compile: picklable, holds paths, not bytes."""

    name: str
    bitcode: Path
    cc1_args: tuple[str, ...]
    thinlto_index: Path | None
    size: int
    # A measured profile its compiles use (`compiler_opt.corpus.profiles.ProfileSet.apply`), or None.
    profile: Path | None = None

    @property
    def library(self) -> str:
        """The first component of the name: the project or library the module comes from."""
        return self.name.split("/", 1)[0]

    @property
    def language(self) -> str:
        """`c`, `c++` or `other`, from the main file's name clang recorded (`-main-file-name`)."""
        return source_language(self.cc1_args)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files a compile of this module reads: its bitcode, and its ThinLTO index and profile when it has."""
        return tuple(path for path in (self.bitcode, self.thinlto_index, self.profile) if path is not None)

    def command(self, clang: str | os.PathLike) -> CompileCommand:
        """How to compile this module with `clang` (its cc1 arguments were sanitized at load)."""
        return CompileCommand(
            str(clang),
            self.cc1_args,
            str(self.bitcode),
            True,
            None if self.thinlto_index is None else str(self.thinlto_index),
            None if self.profile is None else str(self.profile),
        )


@dataclass(frozen=True)
class Corpus:
    """The valid modules of a corpus folder, and the ones that were skipped and why."""

    root: Path
    modules: tuple[ModuleSpec, ...]
    has_thinlto: bool = False
    libraries: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    invalid: tuple[tuple[str, str], ...] = ()
    # The description's runnable benchmark programs as written (`compiler_opt.corpus.programs` checks them).
    programs: object = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self):
        return iter(self.modules)

    def module(self, name: str) -> ModuleSpec:
        """The module called `name`."""
        for spec in self.modules:
            if spec.name == name:
                return spec
        raise CorpusError(f"{self.root}: no module named {name!r} in the corpus")

    def total_size(self) -> int:
        """The bitcode bytes of all modules."""
        return sum(spec.size for spec in self.modules)

    def subset(self, modules: tuple[ModuleSpec, ...] | list[ModuleSpec]) -> Corpus:
        """This corpus restricted to `modules`; `libraries` keeps only members still present."""
        names = {spec.name for spec in modules}
        libraries = {
            library: tuple(m for m in members if m in names)
            for library, members in self.libraries.items()
            if any(m in names for m in members)
        }
        return replace(self, modules=tuple(modules), libraries=libraries)

    def sample(self, n: int, seed: int) -> list[ModuleSpec]:
        """`n` modules drawn with `seed`, one from each of `n` equal-count size strata (`stratified_sample`)."""
        return stratified_sample(self.modules, n, seed)

    @property
    def split_method(self) -> str:
        """How `split` divides this corpus by default: `library` when it records two libraries or more, else `module`."""
        return LIBRARY_SPLIT if len(self.libraries) >= 2 else MODULE_SPLIT

    def split(self, validation_fraction: float, method: str | None = None) -> tuple[Corpus, Corpus]:
        """(training, validation): whole libraries (`split_by_library`) or modules by name (`split_by_name`).

        `method` is `library`, `module` or None (this corpus's `split_method`);
        a run that stored its method passes it back, so it keeps its split. By
        library, the libraries of held-out programs are always validated.
        """
        method = method or self.split_method
        if method == LIBRARY_SPLIT:
            if not self.libraries:
                raise CorpusError(f"{self.root}: records no libraries, so it cannot be split by library")
            training, validation = split_by_library(
                self.modules, validation_fraction, self.libraries, held_out_libraries(self.programs)
            )
        elif method == MODULE_SPLIT:
            training, validation = split_by_name(self.modules, validation_fraction)
        else:
            raise CorpusError(f"unknown split method {method!r}; use {LIBRARY_SPLIT} or {MODULE_SPLIT}")
        return self.subset(training), self.subset(validation)


def load_corpus(path: str | Path, *, skip_invalid: bool = False) -> Corpus:
    """The corpus in folder `path`, validated; see the module docstring for the checks."""
    root = Path(path)
    description = read_description(root)
    shared_args = _shared_command(root, description.global_command_override)
    valid: list[ModuleSpec] = []
    invalid: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in description.modules:
        try:
            if name in seen:
                raise CorpusError(f"{root}: module {name!r} is listed twice in {DESCRIPTION_FILE}")
            seen.add(name)
            valid.append(_load_module(root, name, description.has_thinlto, shared_args))
        except CorpusError as error:
            if not skip_invalid:
                raise
            _LOG.warning("skipping invalid module: %s", error)
            invalid.append((name, str(error)))
    if not valid and description.modules:
        raise CorpusError(
            f"{root}: none of the {len(description.modules)} modules is valid (first problem: {invalid[0][1]})"
        )
    libraries = {name: tuple(members) for name, members in description.libraries.items()}
    corpus = Corpus(
        root=root,
        modules=tuple(valid),
        has_thinlto=description.has_thinlto,
        libraries=libraries,
        invalid=tuple(invalid),
        programs=description.extra.get(PROGRAMS_KEY),
    )
    return corpus.subset(corpus.modules)


def _shared_command(root: Path, override: list[str] | None) -> tuple[str, ...] | None:
    if override is None:
        return None
    if not override or any(UNSPECIFIED_OVERRIDE in arg for arg in override):
        raise CorpusError(
            f'{root / DESCRIPTION_FILE}: "global_command_override" is the unfilled placeholder '
            f"{override!r}; replace it with the cc1 command line that compiles these modules "
            "(for example from `clang -### -c ...`), or pass one to `mlgo corpus extract --cmd-override`"
        )
    try:
        return tuple(sanitize_cc1(override, f"{root / DESCRIPTION_FILE} (global_command_override)"))
    except UnsafeCommandLine as error:
        raise CorpusError(str(error)) from error


def _load_module(root: Path, name: str, has_thinlto: bool, shared_args: tuple[str, ...] | None) -> ModuleSpec:
    if name_escapes(name):
        raise CorpusError(f"{root}: module {name!r} names a file outside the corpus folder; remove it from the list")
    bitcode = _corpus_file(root, name, BITCODE_SUFFIX)
    if not is_bitcode_file(bitcode):
        raise CorpusError(
            f"module {name!r}: {bitcode} is not LLVM bitcode; extract the corpus again or remove the module"
        )
    if shared_args is None:
        command = _corpus_file(root, name, COMMAND_SUFFIX)
        try:
            args = tuple(sanitize_cc1(read_cmd_file(command), f"module {name!r} ({command})"))
        except UnsafeCommandLine as error:
            raise CorpusError(str(error)) from error
    else:
        args = shared_args
    index = None
    if has_thinlto:
        index = _corpus_file(root, name, THINLTO_SUFFIX)
        args = tuple(thinlto_backend_args(args))
    return ModuleSpec(name=name, bitcode=bitcode, cc1_args=args, thinlto_index=index, size=bitcode.stat().st_size)


def _corpus_file(root: Path, name: str, suffix: str) -> Path:
    """The absolute real path of one of `name`'s files, which must be a file inside the corpus folder.

    Links are followed only as far as the corpus folder: one that leads
    outside it (to `/etc/passwd`, another user's files) is refused, so a
    corpus can make the tools read nothing but its own files. The path is
    absolute, so that a module named like an option cannot pass for one.
    """
    path = module_file(root, name, suffix)
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        raise CorpusError(
            f"module {name!r}: {path} leads to {real}, outside the corpus folder; a corpus may only name "
            "its own files (copy the file into the corpus or remove the module)"
        )
    if not real.is_file():
        what = "ThinLTO index " if suffix == THINLTO_SUFFIX else ""
        raise CorpusError(f"module {name!r}: missing {what}{path}; extract the corpus again or remove the module")
    return real
