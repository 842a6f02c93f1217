"""Build the default sample corpus from pinned real-world C and C++ sources.

Steps: fetch and verify the recipe's PyPI source distributions, compile each
listed file with the discovered clang at `-Oz` with embedded bitcode (in
parallel), then run the ordinary `extract` on the objects, exactly as a user's
build would go, recording which modules form each library. The finished
corpus holds `sample_build.json` with its cache key (recipe bytes, size,
compiler identity), figures and, when counted, one problem's decisions per
module (see `module_decisions`, e.g. to pick a module with many decisions); a
later call with the same key returns at once. Archives and unpacked sources
are cached under `cache_dir()/"sample"`. Given a `problem`, every module is
compiled once more through that problem's ML advisor, answered by a built-in
policy (`corpus_tools.stats.count_decisions`: the compiler's own choices where
the problem replays them), to count the decisions the corpus offers; a cached
corpus counted for another problem (or none) is counted again. Every call,
cached or not, also installs the runtime benchmark programs of
`sample_programs.json` (`install_programs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from compiler_opt.corpus.layout import DESCRIPTION_FILE, CorpusError, read_description
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.programs import write_programs
from compiler_opt.llvm.bitcode import CompileFailed, compile_embedding
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.paths import cache_dir
from compiler_opt.progress import progress
from corpus_tools.extract import extract, objects_from_directory
from corpus_tools.fetch import cache_lock, fetch, unpack
from corpus_tools.recipe import SIZES, CompileStep, Recipe, load_recipe
from corpus_tools.stats import corpus_stats, count_all, count_decisions

BUILD_FILE = "sample_build.json"
PROGRAMS_FILE = Path(__file__).with_name("sample_programs.json")
DRIVERS_DIR = Path(__file__).with_name("drivers")
_FETCH_WORKERS = 4


@dataclass
class SampleFigures:
    """What a sample build produced; `decisions` (of `problem`'s advisor, in all modules) is None when not counted."""

    modules: int
    libraries: dict[str, int]
    languages: dict[str, int]
    bitcode_bytes: int
    build_seconds: float
    failed: list[str] = field(default_factory=list)
    problem: str | None = None
    decisions: int | None = None
    largest: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"modules: {self.modules} ({', '.join(f'{k}: {v}' for k, v in sorted(self.languages.items()))})",
            f"libraries: {len(self.libraries)} ({', '.join(f'{k} {v}' for k, v in sorted(self.libraries.items()))})",
            f"bitcode: {self.bitcode_bytes / 1e6:.1f} MB; built in {self.build_seconds:.0f} s",
        ]
        if self.decisions is not None:
            out.append(
                f"{self.problem} decisions (counted through the ML advisor, under a built-in policy): {self.decisions}"
            )
            out += [f"  most in one {lang} module: {name}" for lang, name in sorted(self.largest.items())]
        out += [f"failed to compile (left out): {name}" for name in self.failed]
        return out


def default_output(size: str, key: str) -> Path:
    """Where the sample corpus goes when the user names no folder."""
    return cache_dir() / "sample" / f"corpus-{size}-{key[:16]}"


def build_key(recipe: Recipe, size: str, toolchain: Toolchain) -> str:
    """The cache key: changes with the recipe's bytes, the size and the compiler."""
    digest = hashlib.sha256()
    for part in (recipe.text, size.encode(), toolchain.identity.encode()):
        digest.update(part + b"\0")
    return digest.hexdigest()


def build_sample(
    toolchain: Toolchain,
    output: Path | None = None,
    *,
    size: str = "full",
    recipe: Recipe | None = None,
    jobs: int | None = None,
    problem: str | None = None,
) -> tuple[Path, SampleFigures]:
    """Build (or find cached) the sample corpus; returns its folder and figures.

    With a `problem` (a registered problem's name), the figures count its decisions in every module.
    """
    if size not in SIZES:
        raise CorpusError(f"unknown sample size {size!r}; use one of {', '.join(SIZES)}")
    recipe = recipe or load_recipe()
    key = build_key(recipe, size, toolchain)
    output = Path(output) if output is not None else default_output(size, key)
    with cache_lock(output):  # concurrent builds of one folder wait for each other
        cached = _cached_figures(output, key)
        figures = cached if cached is not None else _build(toolchain, output, key, size, recipe, jobs)
        if problem is not None and figures.problem != problem:
            _count(toolchain, output, key, figures, problem, jobs)
        install_programs(output, size)
        return output, figures


def install_programs(output: Path, size: str, programs_file: Path | None = None) -> list[str]:
    """Copy the runtime drivers into `output/programs/` and list the corpus size's programs in its description.

    A program is listed when the corpus has its library and its `sizes`
    (default: all) include `size` (the small corpus has only part of some
    libraries, which do not link). Idempotent and cheap, so a cached corpus
    gets the current programs too. Returns the names of the programs listed.
    """
    spec = json.loads((programs_file or PROGRAMS_FILE).read_text())
    folder = output / "programs"
    folder.mkdir(exist_ok=True)
    for name in spec["files"]:
        shutil.copyfile(DRIVERS_DIR / name, folder / name)
    libraries = read_description(output).libraries
    programs = [
        {k: v for k, v in p.items() if k != "sizes"}
        for p in spec["programs"]
        if p["library"] in libraries and size in p.get("sizes", SIZES)
    ]
    write_programs(output, programs)
    return [p["name"] for p in programs]


def _build(toolchain: Toolchain, output: Path, key: str, size: str, recipe: Recipe, jobs: int | None) -> SampleFigures:
    _prepare_output(output)
    started = time.monotonic()
    store = cache_dir() / "sample"
    packages = recipe.packages_for(size)
    with ThreadPoolExecutor(max_workers=_FETCH_WORKERS) as pool:
        archives = list(
            progress(
                pool.map(lambda package: fetch(package, store / "downloads"), packages),
                total=len(packages),
                desc="download",
                unit="package",
            )
        )
    sources = {
        package.name: unpack(archive, store / "sources")
        for package, archive in progress(zip(packages, archives), total=len(packages), desc="unpack", unit="package")
    }
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=store) as work:
        objects = Path(work) / "objects"
        steps = recipe.plan(size, sources, Path(work) / "generated")
        failed = _compile_all(toolchain, steps, objects, jobs)
        libraries: dict[str, list[str]] = {}
        for step in steps:
            if step.module not in failed:
                libraries.setdefault(step.library, []).append(step.module)
        result = extract(objects_from_directory(objects), output, toolchain=toolchain, libraries=libraries, jobs=jobs)
    if result.skipped:
        raise CorpusError("sample corpus: extract skipped objects it should not have:\n" + result.summary())
    corpus = load_corpus(output)
    stats = corpus_stats(corpus)
    figures = SampleFigures(
        modules=stats.modules,
        libraries=stats.libraries,
        languages=stats.languages,
        bitcode_bytes=stats.bytes,
        build_seconds=0.0,
        failed=[f"{module}: {message}" for module, message in sorted(failed.items())],
    )
    figures.build_seconds = time.monotonic() - started
    _write_build_file(output, key, figures, {})
    return figures


def _count(
    toolchain: Toolchain, output: Path, key: str, figures: SampleFigures, problem: str, jobs: int | None
) -> None:
    """Count `problem`'s decisions in every module into `figures` (the most in one module per language too)."""
    corpus = load_corpus(output)
    counts = count_all(corpus, lambda spec: count_decisions(spec, problem, toolchain), jobs)
    figures.problem, figures.decisions, figures.largest = problem, sum(counts.values()), {}
    languages = {spec.name: spec.language for spec in corpus}
    for name, decisions in sorted(counts.items(), key=lambda item: -item[1]):
        figures.largest.setdefault(languages[name], f"{name} ({decisions})")
    _write_build_file(output, key, figures, counts)


def _compile_all(toolchain: Toolchain, steps: list[CompileStep], objects: Path, jobs: int | None) -> dict[str, str]:
    """Compile every step; returns module -> first error line for the ones that failed."""
    failed: dict[str, str] = {}
    workers = max(1, jobs or os.cpu_count() or 1)
    largest_first = sorted(steps, key=lambda step: -step.source.stat().st_size)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(
                compile_embedding,
                toolchain,
                step.source,
                objects / f"{step.module}.o",
                step.args,
                cwd=step.source.parent,
            ): step
            for step in largest_first
        }
        for future in progress(as_completed(futures), total=len(futures), desc="compile", unit="file"):
            try:
                future.result()
            except CompileFailed as error:
                errors = [line for line in str(error).splitlines() if "error:" in line]
                failed[futures[future].module] = (errors or [str(error)])[0]
    if len(failed) > len(steps) // 10:
        raise CorpusError(
            f"sample corpus: {len(failed)} of {len(steps)} files failed to compile with {toolchain.clang} "
            f"(first: {min(failed.items())}); this compiler may be too different from clang 19"
        )
    return failed


def _cached_figures(output: Path, key: str) -> SampleFigures | None:
    try:
        data = json.loads((output / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key or not (output / DESCRIPTION_FILE).is_file():
        return None
    try:
        return SampleFigures(**data["figures"])
    except TypeError:
        return None


def _prepare_output(output: Path) -> None:
    if output.exists() and any(output.iterdir()):
        if not (output / BUILD_FILE).is_file():
            raise CorpusError(f"{output}: exists and is not an earlier sample corpus; name an empty or new folder")
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / BUILD_FILE).write_text(json.dumps({"key": None, "state": "building"}) + "\n")


def _write_build_file(output: Path, key: str, figures: SampleFigures, decisions: dict[str, int]) -> None:
    data = {"key": key, "figures": asdict(figures), "decisions": decisions}
    (output / BUILD_FILE).write_text(json.dumps(data, indent=2) + "\n")


def module_decisions(output: Path, problem: str) -> dict[str, int]:
    """`problem`'s decisions per module recorded by the build of the sample corpus in `output` ({} if not counted)."""
    try:
        data = json.loads((output / BUILD_FILE).read_text())
    except (OSError, ValueError) as error:
        raise CorpusError(f"{output}: no readable {BUILD_FILE}; build it with `mlgo corpus sample`") from error
    counted = (data.get("figures") or {}).get("problem") == problem
    return dict(data.get("decisions") or {}) if counted else {}
