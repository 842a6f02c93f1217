"""The project's WORKSPACE/BUILD.bazel: the exported policy as a cc_library, the harness as a cc_binary.

Built with Debian's `bazel-bootstrap` when it is installed; in CI (`CI` set)
the test installs it. Offline, that Bazel needs local stand-ins for
`rules_cc` and `rules_java` (re-exports of its native rules) and Debian's
`bazel-platforms`, which the test writes and passes as repository overrides.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLATFORMS = Path("/usr/share/bazel/tools/platforms")

RULES_CC = """\
cc_library = native.cc_library
cc_binary = native.cc_binary
cc_test = native.cc_test
cc_import = native.cc_import
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
"""
RULES_JAVA = """\
java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_plugin = native.java_plugin
java_test = native.java_test
java_package_configuration = native.java_package_configuration
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
"""
RULES_JAVA_REPOSITORIES = """\
def rules_java_dependencies():
    pass

def rules_java_toolchains():
    pass
"""


def bazel() -> str:
    if shutil.which("bazel") is None or not PLATFORMS.is_dir():
        if not os.environ.get("CI"):
            pytest.skip("Bazel is not installed (apt-get install -y bazel-bootstrap bazel-platforms)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "bazel-bootstrap", "bazel-platforms"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return shutil.which("bazel")


def offline_rules(root: Path) -> list[str]:
    """Local `rules_cc` and `rules_java` repositories, and the overrides that use them."""
    files = {
        "rules_cc/cc/defs.bzl": RULES_CC,
        "rules_java/java/defs.bzl": RULES_JAVA,
        "rules_java/java/repositories.bzl": RULES_JAVA_REPOSITORIES,
    }
    for name in (
        "rules_cc/WORKSPACE",
        "rules_cc/BUILD",
        "rules_cc/cc/BUILD",
        "rules_java/WORKSPACE",
        "rules_java/BUILD",
        "rules_java/java/BUILD",
    ):
        files[name] = ""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return [
        f"--override_repository=rules_cc={root / 'rules_cc'}",
        f"--override_repository=rules_java={root / 'rules_java'}",
        f"--override_repository=platforms={PLATFORMS}",
    ]


@pytest.mark.slow
def test_bazel_builds_the_policy_library_and_the_harness_which_decides_as_cmakes(exported, tmp_path):
    binary = bazel()
    out, _, _ = exported
    env = {**os.environ, "MLGO_AOT_DIR": str(out / "aot")}
    output_base = tmp_path / "bazel"
    run = subprocess.run(
        [
            binary,
            "--batch",
            f"--output_base={output_base}",
            "build",
            "--symlink_prefix=/",
            *offline_rules(tmp_path),
            "//:policy",
            "//:aot_check",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [harness] = output_base.glob("execroot/mlgo/bazel-out/*/bin/compiler_opt/export/cc/aot_check")
    records = out / "verify" / "observations.bin"
    by_bazel = subprocess.run([str(harness), str(records)], capture_output=True, text=True, check=True).stdout
    by_cmake = subprocess.run(
        [str(out / "verify" / "mlgo_aot_check"), str(records)], capture_output=True, text=True, check=True
    ).stdout
    assert by_bazel == by_cmake and len(by_bazel.split()) > 1000
    assert not list(REPO.glob("bazel-*"))  # no convenience symlinks left in the checkout
