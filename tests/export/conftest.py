"""Built once per session: a non-trivial inlining policy, and its full export checked on 2,000 observations."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler_opt.corpus.loading import load_corpus
from tests.export.policies import build_random_policy

VERIFY_OBSERVATIONS = 2000


@pytest.fixture(scope="session")
def sample_corpus(small_sample):
    return load_corpus(small_sample)


@pytest.fixture(scope="session")
def policy_dir(toolchain, sample_corpus, tmp_path_factory) -> Path:
    return build_random_policy(toolchain, sample_corpus, tmp_path_factory.mktemp("policy") / "policy")


@pytest.fixture(scope="session")
def exported(policy_dir, sample_corpus, toolchain, tmp_path_factory):
    """`export_policy` with every form and --verify 2000: (OUT, ExportResult, log lines)."""
    from compiler_opt.export.exporter import export_policy

    root = tmp_path_factory.mktemp("export")
    lines: list[str] = []
    result = export_policy(
        policy_dir,
        root / "out",
        aot=True,
        tflite=True,
        verify=VERIFY_OBSERVATIONS,
        corpus=sample_corpus,
        clang=str(toolchain.clang),
        harness_build_dir=root / "harness",
        log=lines.append,
    )
    return root / "out", result, lines


def require_llvm_dev(toolchain) -> None:
    """Skip unless the inliner plugin can be built for `toolchain` (a supported LLVM, its headers installed)."""
    from compiler_opt.export.inliner_plugin import SUPPORTED_MAJORS, find_llvm_dev
    from compiler_opt.export.saved_model import ExportError

    if toolchain.major not in SUPPORTED_MAJORS:
        pytest.skip(f"the inliner plugin supports LLVM {SUPPORTED_MAJORS}, not clang {toolchain.major}")
    try:
        find_llvm_dev(toolchain)
    except ExportError as error:
        pytest.skip(f"no LLVM headers to build the plugin against: {error}")


@pytest.fixture(scope="session")
def deployed(policy_dir, toolchain, tmp_path_factory, small_sample) -> Path:
    """The test policy exported with --native and --plugin (OUT), shared by the build-recipe tests."""
    from compiler_opt.export.exporter import export_policy

    require_llvm_dev(toolchain)

    out = tmp_path_factory.mktemp("deploy") / "out"
    export_policy(policy_dir, out, native=True, plugin=True, clang=str(toolchain.clang), log=lambda _: None)
    return out
