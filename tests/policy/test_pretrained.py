"""Pretrained policies: a tiny real run packaged with its provenance, then used by name in eval, cc and export.

No policy ships yet, so each test packages into a temporary registry: the
library functions take it as `root`, and the `mlgo` verbs, each run in a
fresh process as a user runs them, see it as the registry's default
(`PACKAGE_ROOT`, set before the verb starts).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.policy import pretrained
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from tests import tiny_runs
from tests.conftest import DATA
from tests.test_packaging import _pip, _project_copy

pytestmark = pytest.mark.slow  # a real training run, evaluations, a wheel: about a minute on 2 cores

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "package_pretrained.py"
MODULES = "3"  # --max-modules of the evaluations


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pretrained")


@pytest.fixture(scope="module")
def run(small_sample, toolchain, work) -> Path:
    """One iteration of ES with the smallest network: a real run folder with its saved policy."""
    tiny_runs.train(small_sample, work / "run", "inlining", "es", str(toolchain.clang), work / "baselines")
    return work / "run"


@pytest.fixture(scope="module")
def evaluations(run, small_sample, toolchain, work) -> tuple[Path, Path]:
    """`mlgo eval` of the run's policy and of the hand rule, on the same few modules."""
    paths = work / "policy.json", work / "rule.json"
    for policy, path in zip((run / "policy", "rule"), paths):
        tiny_runs.evaluate(
            small_sample, policy, "inlining", str(toolchain.clang), work / "baselines", path, "--max-modules", MODULES
        )
    return paths


@pytest.fixture(scope="module")
def registry(run, evaluations, work) -> Path:
    """The run packaged as `tiny` by the maintainers' script into a temporary registry."""
    root = work / "registry"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--run", run, "--name", "tiny", "--root", root, "--budget-minutes", "1"]
        + ["--eval", evaluations[0], "--reference", evaluations[1]],
        check=True,
        capture_output=True,
        text=True,
    )
    return root


# `mlgo ARGV` with the registry ROOT as the package's own: python -c LAUNCH ROOT ARGV...
LAUNCH = (
    "import sys; from pathlib import Path; from compiler_opt.policy import pretrained; "
    "pretrained.PACKAGE_ROOT = Path(sys.argv[1]); from mlgo.cli import main; sys.exit(main(sys.argv[2:]))"
)


def mlgo(root: Path, *args: object) -> subprocess.CompletedProcess:
    """`mlgo ARGS` in a subprocess whose packaged policies are those in `root`."""
    command = [sys.executable, "-c", LAUNCH, str(root), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _eval_args(small_sample, toolchain, work, policy: str, output: Path) -> list[str]:
    return [
        "eval",
        "--problem",
        "inlining",
        "--policy",
        policy,
        "--corpus",
        str(small_sample),
        "--output",
        str(output),
        "--clang",
        str(toolchain.clang),
        "--baselines",
        str(work / "baselines"),
        "--workers",
        "2",
        "--max-modules",
        MODULES,
    ]


def test_the_script_packages_the_runs_policy_with_what_the_run_and_evaluations_recorded(
    registry, run, evaluations, small_sample, toolchain
):
    (entry,) = pretrained.packaged(registry)
    info = entry.provenance
    config = json.loads((run / "config.json").read_text())
    assert (entry.name, info["name"], info["problem"], info["algorithm"]) == ("tiny", "tiny", "inlining", "es")
    assert info["seed"] == config["seed"] and info["created"] == config["created"]
    assert info["budget"]["iterations"] == 1 and info["budget"]["minutes_given"] == 1
    assert info["corpus"]["name"] == small_sample.name
    assert info["corpus"]["cache_key"] == json.loads((small_sample / "sample_build.json").read_text())["key"]
    assert info["compiler"]["version"] == toolchain.version_text
    assert info["compiler"]["features"] == FeatureSpec.load(run / "policy").names

    policy, rule = (json.loads(path.read_text()) for path in evaluations)
    validation = info["validation"]
    assert validation["total_vs_default"] == policy["summary"]["total_ratio"]
    assert validation["modules"] == len(policy["modules"]) == int(MODULES)
    rule_sizes = {m["name"]: m["policy"] for m in rule["modules"]}
    ours = sum(m["policy"] for m in policy["modules"]) / sum(rule_sizes[m["name"]] for m in policy["modules"])
    assert validation["total_vs_reference"] == pytest.approx(ours)
    assert validation["reference"] == rule["policy"]

    digest = FastPolicy.load(run / "policy").digest()
    assert info["policy"]["digest"] == digest == FastPolicy.load(entry.policy).digest()
    files = [path for path in entry.folder.rglob("*") if path.is_file()]
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in files)  # the run's vocabulary files are 0600
    assert info["policy"]["bytes"] == sum(path.stat().st_size for path in files if entry.policy in path.parents)
    assert info["policy"]["bytes"] < 2_000_000  # the package stays small: about 0.9 MB, most of it the graph


def test_names_are_looked_up_in_the_registry_and_an_unknown_one_lists_the_packaged(registry, run, tmp_path):
    assert pretrained.policy_folder("pretrained:tiny", registry) == registry / "tiny" / "policy"
    assert pretrained.policy_folder(str(run / "policy"), registry) == run / "policy"
    with pytest.raises(MlgoError, match=r"no pretrained policy 'nope'.*pretrained:tiny: inlining, es on "):
        pretrained.find_pretrained("nope", registry)
    with pytest.raises(MlgoError, match="packages none"):
        pretrained.find_pretrained("tiny", tmp_path / "empty")

    info = pretrained.find_pretrained("tiny", registry).provenance
    with pytest.raises(MlgoError, match="exists"):
        pretrained.package_policy(run / "policy", "tiny", info, root=registry)
    with pytest.raises(MlgoError, match="lower-case"):
        pretrained.package_policy(run / "policy", "../escape", info, root=registry)
    with pytest.raises(MlgoError, match="lacks validation"):
        pretrained.package_policy(
            run / "policy", "other", {k: v for k, v in info.items() if k != "validation"}, root=registry
        )
    assert [entry.name for entry in pretrained.packaged(registry)] == ["tiny"]


def test_mlgo_eval_runs_a_pretrained_policy_by_name(registry, evaluations, small_sample, toolchain, work):
    output = work / "by-name.json"
    result = mlgo(registry, *_eval_args(small_sample, toolchain, work, "pretrained:tiny", output))
    assert result.returncode == 0, result.stderr
    by_name, by_folder = json.loads(output.read_text()), json.loads(evaluations[0].read_text())
    assert by_name["policy"] == "pretrained:tiny"
    assert [(m["name"], m["policy"]) for m in by_name["modules"]] == [
        (m["name"], m["policy"]) for m in by_folder["modules"]
    ]

    result = mlgo(registry, *_eval_args(small_sample, toolchain, work, "pretrained:nope", work / "nope.json"))
    assert result.returncode == 2
    assert "no pretrained policy 'nope'" in result.stderr and "pretrained:tiny: inlining" in result.stderr


def test_mlgo_cc_and_export_take_a_pretrained_name(registry, run, toolchain, tmp_path):
    objects = []
    for policy in ("pretrained:tiny", run / "policy"):
        objects.append(tmp_path / f"{len(objects)}.o")
        argv = ["cc", "--policy", policy, "--clang", toolchain.clang, "--cxx", "--", "-Oz", "-c", DATA / "calls.cc"]
        result = mlgo(registry, *argv, "-o", objects[-1])
        assert result.returncode == 0, result.stderr
    assert objects[0].read_bytes() == objects[1].read_bytes()

    result = mlgo(registry, "export", "--policy", "pretrained:tiny", "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["policy"] == "pretrained:tiny"
    assert (tmp_path / "out" / "saved_model" / "saved_model.pb").is_file()


def test_a_pretrained_policy_refuses_a_compiler_that_sends_other_features(
    registry, small_sample, toolchain, work, tmp_path
):
    """The policy packaged as trained on a compiler whose first feature had another name: this clang sends the
    real name, which is extra to the policy, and lacks the policy's."""
    entry = pretrained.find_pretrained("tiny", registry)
    policy = tmp_path / "policy"
    shutil.copytree(entry.policy, policy)
    spec = json.loads((policy / "feature_spec.json").read_text())
    real = spec["features"][0]["name"]
    spec["features"][0]["name"] = other = f"{real}_v0"
    (policy / "feature_spec.json").write_text(json.dumps(spec))
    (policy / "vocab" / f"{real}.buckets").rename(policy / "vocab" / f"{other}.buckets")
    provenance = {**entry.provenance, "compiler": {"version": "a clang whose inliner names it " + other}}
    root = tmp_path / "registry"
    pretrained.package_policy(policy, "renamed", provenance, root=root)
    message = f"missing features: {other}; extra features: {real}"

    result = mlgo(root, *_eval_args(small_sample, toolchain, work, "pretrained:renamed", tmp_path / "e.json"))
    assert result.returncode == 2 and message in result.stderr and "Retrain" in result.stderr
    assert not (tmp_path / "e.json").exists()

    argv = ["cc", "--policy", "pretrained:renamed", "--clang", toolchain.clang, "--cxx", "--", "-Oz", "-c"]
    result = mlgo(root, *argv, DATA / "calls.cc", "-o", tmp_path / "x.o")
    assert result.returncode == 2 and message in result.stderr


def test_a_packaged_policy_ships_in_the_wheel(registry, tmp_path):
    project = _project_copy(tmp_path / "project")
    shutil.copytree(registry / "tiny", project / "compiler_opt" / "pretrained" / "tiny")
    _pip(project, "wheel", "--no-deps", "-w", str(tmp_path), ".")
    (wheel,) = tmp_path.glob("mlgo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {str(path.relative_to(project)) for path in (project / "compiler_opt" / "pretrained").rglob("*")}
    files = {name for name in packaged if (project / name).is_file()}
    assert "compiler_opt/pretrained/tiny/policy/saved_model.pb" in files and files <= names
