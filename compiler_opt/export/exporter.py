"""`export_policy`: a saved policy -> the forms LLVM embeds or loads, optionally checked decision by decision.

    OUT/saved_model/   always: the SavedModel LLVM's build compiles (see `saved_model`)
    OUT/tflite/        with `tflite`: model.tflite + output_spec.json for development mode
    OUT/aot/           with `aot`: XLA AOT header and object, LLVM CMake snippet, README, Bazel files
    OUT/native/bin/    with `native`: mlgo-clang, mlgo-clang++: the stock clang answered by the AOT policy
    OUT/plugin/lib/    with `plugin`: libmlgo-inliner.so, for `clang -fpass-plugin=` (inlining only)
    OUT/verify/        with `verify`: the recorded observations, the check harness binary,
                       report.json (what each form agreed on)
    OUT/export.json    what was exported from which policy, with timings

Only the subfolders named above are replaced in OUT.

`export_per_language` exports a policy per language
(`compiler_opt.policy.by_language`): each saved member as above into
OUT/c/, OUT/cxx/, OUT/other/ or OUT/any/ (for `*`), and OUT/languages.json
says which folder serves which language; a member that is the compiler's own
heuristic (`default`) needs no export: that language builds with the stock
clang. A build then uses each language's exports through its own flags
(CC=OUT/c/native/bin/mlgo-clang, CXX=OUT/cxx/native/bin/mlgo-clang++).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from compiler_opt.corpus.loading import Corpus
from compiler_opt.errors import MlgoError
from compiler_opt.export.aot import AotArtifacts, compile_aot, embedded_model, host_triple
from compiler_opt.export.harness import build_harness, run_harness
from compiler_opt.export.inliner_plugin import build_inliner_plugin
from compiler_opt.export.native_driver import build_native_driver
from compiler_opt.export.observations import write_harness_file
from compiler_opt.export.saved_model import ExportError, write_saved_model
from compiler_opt.export.tflite import write_tflite
from compiler_opt.export.verify import (
    VerifyMismatch,
    VerifyReport,
    check_forms,
    numpy_form,
    record_observations,
    saved_model_form,
    tflite_form,
)
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.by_language import ANY_LANGUAGE, LanguagePolicies
from compiler_opt.policy.pretrained import is_pretrained, policy_folder
from compiler_opt.policy.saved import load_fast_policy
from compiler_opt.problems.policy_match import policy_problem

MANIFEST = "export.json"
LANGUAGES_MANIFEST = "languages.json"
LANGUAGE_FOLDERS = {"c": "c", "c++": "cxx", "other": "other", ANY_LANGUAGE: "any"}
# Built-in members that are the compiler's own heuristic: what a stock clang does with nothing exported.
COMPILERS_OWN = ("default", "baseline")


@dataclass
class ExportResult:
    """What `export_policy` wrote, and how long each step took."""

    policy: str
    problem: str
    output: str
    forms: list[str]
    cpp_class: str | None = None
    target_triple: str | None = None
    target_cpu: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    verify: VerifyReport | None = None
    native: str | None = None
    plugin: str | None = None
    plugin_llvm: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        data["verify"] = None if self.verify is None else self.verify.to_json()
        return data


def export_policy(
    policy_dir: str | Path,
    output: str | Path,
    *,
    aot: bool = False,
    tflite: bool = False,
    native: bool = False,
    plugin: bool = False,
    target_triple: str | None = None,
    target_cpu: str = "",
    verify: int = 0,
    corpus: Corpus | None = None,
    clang: str | None = None,
    problem: str | None = None,
    seed: int = 0,
    harness_build_dir: Path | None = None,
    log=print,
    pretrained_root: str | Path | None = None,
) -> ExportResult:
    """Export the policy in `policy_dir` (a saved policy folder, or `pretrained:NAME`: a policy packaged in
    `pretrained_root`, by default the package's own) into `output`; see the module docstring.

    `native` and `plugin` (both imply `aot`) build the native driver and the
    inliner plugin for `clang` (default: the toolchain search's). `verify` >
    0 records that many observations by compiling `corpus` with `clang` and
    checks every exported form on them (`VerifyMismatch` on the first
    difference). `harness_build_dir` keeps the harness's CMake tree
    (else a temporary one is used). `log` receives one line per step.
    """
    given = str(policy_dir) if is_pretrained(policy_dir) else str(Path(policy_dir))
    policy_dir, output = policy_folder(policy_dir, pretrained_root), Path(output)
    fast = load_fast_policy(policy_dir)
    the_problem = policy_problem(fast.spec, problem)
    aot = aot or native or plugin
    if (native or plugin) and target_triple and target_triple != host_triple():
        raise MlgoError(f"--native and --plugin run here, so they need the host's target triple ({host_triple()})")
    if aot:
        model = embedded_model(the_problem)
        if model.decision != fast.spec.advice.name:
            raise ExportError(
                f"LLVM fetches the {the_problem.name} model's decision as {model.decision!r}, but the "
                f"policy answers {fast.spec.advice.name!r}"
            )
    if verify:
        if corpus is None or clang is None:
            raise MlgoError("--verify needs --corpus (modules to compile under the policy) and a clang")
        if aot and target_triple and target_triple != host_triple():
            raise MlgoError(
                f"--verify runs the AOT model here, so it needs the host's target triple "
                f"({host_triple()}), not {target_triple}; export for {target_triple} without --verify"
            )
    output.mkdir(parents=True, exist_ok=True)
    result = ExportResult(given, the_problem.name, str(output), ["saved_model"])

    started = time.monotonic()
    saved_model = write_saved_model(policy_dir, output / "saved_model", fast.spec)
    result.seconds["saved_model"] = time.monotonic() - started
    log(f"saved_model: {saved_model}")
    if tflite:
        started = time.monotonic()
        folder = write_tflite(saved_model, output / "tflite", fast.spec)
        result.seconds["tflite"] = time.monotonic() - started
        result.forms.append("tflite")
        log(f"tflite:      {folder} ({result.seconds['tflite']:.1f} s)")
    artifacts: AotArtifacts | None = None
    if aot:
        artifacts = compile_aot(
            saved_model, output / "aot", the_problem, target_triple=target_triple, target_cpu=target_cpu
        )
        result.seconds["aot"] = artifacts.seconds
        result.forms.append("aot")
        result.cpp_class, result.target_triple = artifacts.cpp_class, artifacts.target_triple
        result.target_cpu = artifacts.target_cpu
        log(
            f"aot:         {artifacts.header.name}, {artifacts.object.name} ({artifacts.cpp_class}, "
            f"{artifacts.target_triple}) in {artifacts.folder} ({artifacts.seconds:.1f} s)"
        )
    if artifacts is not None and (native or plugin):
        _build_native(result, artifacts, fast, the_problem, output, native, plugin, clang, log)
    if verify:
        assert corpus is not None and clang is not None  # --verify without them was refused above
        result.verify = _verify(
            fast,
            the_problem,
            output,
            saved_model,
            tflite,
            artifacts,
            verify,
            corpus,
            clang,
            seed,
            harness_build_dir,
            log,
        )
        result.seconds.update({f"verify_{k}": v for k, v in result.verify.seconds.items()})
    manifest = {**result.to_json(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (output / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return result


def export_per_language(
    policies: LanguagePolicies[str], output: str | Path, *, log=print, **options
) -> dict[str, ExportResult | None]:
    """Export each member of `policies` as `export_policy` does (with `options`) into its language's folder of
    `output`; a member that is the compiler's own heuristic maps to None. See the module docstring."""
    output = Path(output)
    for language, member in policies:
        if member not in COMPILERS_OWN and not (is_pretrained(member) or Path(member).is_dir()):
            raise MlgoError(
                f"the {language} member {member!r} of {policies.text!r} is neither a saved policy folder, "
                f"pretrained:NAME nor the compiler's own heuristic ({' or '.join(COMPILERS_OWN)}): a built-in "
                "policy runs in Python only; export a policy trained to imitate it (mlgo train --algorithm bc)"
            )
    results: dict[str, ExportResult | None] = {}
    for language, member in policies:
        if member in COMPILERS_OWN:
            log(f"{language}: the compiler's own heuristic; build {language} with the stock clang")
            results[language] = None
            continue
        log(f"{language}: {member}")
        results[language] = export_policy(member, output / LANGUAGE_FOLDERS[language], log=log, **options)
    manifest = {
        "policy": policies.text,
        "languages": {
            language: {"policy": member, "folder": None if results[language] is None else LANGUAGE_FOLDERS[language]}
            for language, member in policies
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (output / LANGUAGES_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return results


def _build_native(
    result: ExportResult,
    artifacts: AotArtifacts,
    fast,
    problem,
    output: Path,
    native: bool,
    plugin: bool,
    clang: str | None,
    log,
) -> None:
    """Build the native driver and/or the inliner plugin from the AOT policy into OUT/native, OUT/plugin."""
    toolchain = find_toolchain(clang)
    if native:
        driver = build_native_driver(artifacts.folder, fast.spec, problem, toolchain.clang, output / "native")
        result.seconds["native"] = driver.seconds
        result.forms.append("native")
        result.native = str(driver.bin_dir)
        log(f"native:      {driver.bin_dir}/mlgo-clang, mlgo-clang++ for {toolchain.clang} ({driver.seconds:.1f} s)")
    if plugin:
        built = build_inliner_plugin(artifacts.folder, output / "plugin", clang=toolchain.clang)
        result.seconds["plugin"] = built.seconds
        result.forms.append("plugin")
        result.plugin, result.plugin_llvm = str(built.path), built.llvm_version
        log(f"plugin:      {built.path} for LLVM {built.llvm_version} ({built.seconds:.1f} s)")


def _verify(
    fast,
    problem,
    output: Path,
    saved_model: Path,
    tflite: bool,
    artifacts: AotArtifacts | None,
    count: int,
    corpus: Corpus,
    clang: str,
    seed: int,
    harness_build_dir: Path | None,
    log,
) -> VerifyReport:
    folder = output / "verify"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.monotonic()
    observations, failed = record_observations(fast, problem, corpus, clang, count, seed=seed)
    recorded = time.monotonic() - started
    log(
        f"verify:      recorded {len(observations)} observations from {len(set(observations.modules))} modules "
        f"({recorded:.1f} s)" + (f"; {len(failed)} modules failed to compile" if failed else "")
    )
    records = write_harness_file(observations, folder / "observations.bin")
    dtype = fast.spec.advice.dtype
    forms = {"numpy": numpy_form(fast), "saved_model": saved_model_form(saved_model, dtype)}
    if tflite:
        forms["tflite"] = tflite_form(output / "tflite", fast.spec, dtype)
    runtime = None
    if artifacts is not None:
        with tempfile.TemporaryDirectory(prefix="mlgo-harness-") as tmp:
            harness = build_harness(artifacts.folder, harness_build_dir or Path(tmp))
            shutil.copy2(harness.binary, folder / harness.binary.name)
        runtime = harness.runtime
        log(f"verify:      built the check harness with the {harness.runtime} XLA runtime ({harness.seconds:.1f} s)")
        forms["aot"] = lambda _: run_harness(folder / harness.binary.name, records, dtype)[0]
    try:
        agreed, seconds = check_forms(observations, forms, fast)
    except VerifyMismatch as mismatch:
        raise VerifyMismatch(
            f"{mismatch}\nThe exports in {output} are left for inspection (the observations in "
            f"{records}); do not use them. {MANIFEST} was not written."
        ) from None
    seconds["record"] = recorded
    values, counts = np.unique(observations.decisions, return_counts=True)
    report = VerifyReport(
        len(observations),
        sorted(set(observations.modules)),
        failed,
        agreed,
        seconds,
        {str(v.item()): int(c) for v, c in zip(values, counts)},
        runtime,
    )
    (folder / "report.json").write_text(json.dumps(report.to_json(), indent=1) + "\n")
    log(f"verify:      {', '.join(agreed)} agree with the compile on all {len(observations)} observations")
    return report
