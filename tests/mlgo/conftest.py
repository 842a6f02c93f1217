"""Shared by the `mlgo` command tests: a real register-allocation eviction run, trained from outside the checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compiler_opt.training.gin_config import GIN_DIR
from tests.rl.conftest import sub_corpus


def decoy_checkout(folder: Path) -> None:
    """Give `folder` gin files at the paths the packaged files have, all broken: none may be read."""
    package_parent = GIN_DIR.parent.parent.parent
    for source in GIN_DIR.parent.parent.rglob("*.gin"):
        decoy = folder / source.relative_to(package_parent)
        decoy.parent.mkdir(parents=True, exist_ok=True)
        decoy.write_text("this is not gin\n")


@pytest.fixture(scope="session")
def eviction_run(small_sample, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One ES step of regalloc eviction on two modules, as `mlgo train` run in a folder holding decoy gin files."""
    folder = tmp_path_factory.mktemp("elsewhere")
    corpus = sub_corpus(small_sample, ("xxhash/xxhash", "libyaml/api"), folder / "corpus")
    decoy_checkout(folder)
    bindings = (
        "train.trainer_config.vocab_modules = 2",
        "policy.network_config.fc_layer_params = (8,)",
        "es.es_config.perturbations = 1",
        "es.es_config.modules_per_perturbation = 1",
    )
    args = [
        "train",
        "--problem",
        "regalloc-eviction",
        "--algorithm",
        "es",
        "--corpus",
        corpus,
        "--output",
        "run",
        "--iterations",
        1,
        "--validation-fraction",
        0,
        "--workers",
        2,
        "--baselines",
        "baselines",
        "--json",
        *(arg for binding in bindings for arg in ("--gin-binding", binding)),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, cwd=folder
    )
    return folder / "run", result
