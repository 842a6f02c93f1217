"""libmlgo-inliner.so in a stock clang: the policy's decisions without a host, refusal of a foreign LLVM."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from compiler_opt.export.aot import compile_aot
from compiler_opt.export.dropin import compile_with_policy, load_dropin_policy, run_compile_job
from compiler_opt.export.inliner_plugin import (
    SUPPORTED_MAJORS,
    build_inliner_plugin,
    check_inliner_model,
    find_llvm_dev,
)
from compiler_opt.export.saved_model import ExportError, write_saved_model
from compiler_opt.llvm.driver import COMPILE, DriverJob
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.paths import cache_dir
from tests.export.conftest import require_llvm_dev

MODULES = 8


@pytest.fixture(scope="module")
def aot_dir(policy_dir, toolchain, tmp_path_factory) -> Path:
    from compiler_opt.policy.saved import load_fast_policy
    from compiler_opt.problems.policy_match import policy_problem

    root = tmp_path_factory.mktemp("plugin-aot")
    fast = load_fast_policy(policy_dir)
    saved_model = write_saved_model(policy_dir, root / "saved_model", fast.spec)
    return compile_aot(saved_model, root / "aot", policy_problem(fast.spec, None)).folder


@pytest.fixture(scope="module")
def plugin(aot_dir, toolchain, tmp_path_factory):
    require_llvm_dev(toolchain)
    root = tmp_path_factory.mktemp("plugin")
    return build_inliner_plugin(aot_dir, root / "out", clang=toolchain.clang, build_dir=root / "build")


@pytest.mark.slow
def test_plugin_objects_are_the_drop_ins_on_real_modules(plugin, policy_dir, sample_corpus, toolchain, tmp_path):
    assert plugin.path.name == "libmlgo-inliner.so" and plugin.path.parent.name == "lib"
    assert plugin.llvm_version.startswith(".".join(map(str, toolchain.version[:2])) + ".")
    exported = subprocess.run(["nm", "-D", "--defined-only", str(plugin.path)], capture_output=True, text=True)
    assert exported.stdout.split()[2::3] == ["llvmGetPassPluginInfo"]
    policy, problem = load_dropin_policy(policy_dir, None)
    differs_from_default = 0
    for index, module in enumerate(sample_corpus.sample(MODULES, 3)):
        command = module.command(toolchain.clang)
        with_plugin, dropin, default = (tmp_path / f"{index}.{kind}.o" for kind in ("plugin", "dropin", "oz"))
        run = subprocess.run(
            command.argv(with_plugin, [f"-fpass-plugin={plugin.path}"]), capture_output=True, text=True
        )
        assert run.returncode == 0 and run.stderr == "", run.stderr
        assert run_compile_job(toolchain, DriverJob(COMPILE, tuple(command.argv(dropin))), policy, problem) == 0
        subprocess.run(command.argv(default), check=True)
        assert with_plugin.read_bytes() == dropin.read_bytes(), module.name
        differs_from_default += with_plugin.read_bytes() != default.read_bytes()
    assert differs_from_default > 0  # the policy really decided


def _lz4_source(folder: Path) -> Path:
    """lz4.c and the headers it includes, from the sample corpus's pinned archive."""
    archive = next((cache_dir() / "sample" / "downloads").glob("lz4-*.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/lz4libs/" in member.name and member.name.endswith((".c", ".h")):
                member.name = Path(member.name).name
                tar.extract(member, folder, filter="data")
    return folder / "lz4.c"


@pytest.mark.slow
def test_clang_with_the_plugin_compiles_a_source_as_mlgo_cc_does(plugin, policy_dir, toolchain, tmp_path):
    source = _lz4_source(tmp_path)
    args = ["-Oz", "-c", str(source)]
    assert compile_with_policy([*args, "-o", str(tmp_path / "cc.o")], policy_dir, clang=str(toolchain.clang)) == 0
    run = subprocess.run(
        [str(toolchain.clang), f"-fpass-plugin={plugin.path}", *args, "-o", str(tmp_path / "plugin.o")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "plugin.o").read_bytes() == (tmp_path / "cc.o").read_bytes()


@pytest.mark.slow
def test_another_llvm_refuses_the_plugin_naming_both_versions(plugin, toolchain, tmp_path):
    other = next(
        (shutil.which(f"clang-{major}") for major in SUPPORTED_MAJORS if major != toolchain.major),
        None,
    )
    if other is None:
        pytest.skip("no clang of another supported LLVM release installed")
    version = (
        subprocess.run([other, "--version"], capture_output=True, text=True).stdout.split("version ")[1].split()[0]
    )
    (tmp_path / "x.c").write_text(
        "static int add(int a, int b) { return a + b; }\nint f(int x) { return add(x, 1); }\n"
    )
    run = subprocess.run(
        [other, "-Oz", f"-fpass-plugin={plugin.path}", "-c", "x.c", "-o", "x.o"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr
    assert (
        f"mlgo-inliner: error: this plugin was built for LLVM {plugin.llvm_version} and cannot run in LLVM {version}"
        in run.stderr
    )
    assert "PLEASE submit a bug report" not in run.stderr and "Stack dump" not in run.stderr
    assert not (tmp_path / "x.o").exists()


def test_llvm_config_without_headers_or_of_another_release_is_refused(aot_dir, toolchain, tmp_path):
    fake = tmp_path / "llvm-config"  # a stand-in that reports an include folder without LLVM's headers

    def reporting(version: str) -> Path:
        fake.write_text(
            f'#!/bin/sh\ncase "$1" in --version) echo {version};; --includedir) echo {tmp_path / "include"};; esac\n'
        )
        fake.chmod(0o755)
        return fake

    version = ".".join(map(str, toolchain.version))
    with pytest.raises(ExportError, match=rf"headers are not installed.*apt-get install -y llvm-{toolchain.major}-dev"):
        build_inliner_plugin(aot_dir, tmp_path / "out", clang=toolchain.clang, llvm_config=reporting(version))
    with pytest.raises(ExportError, match=rf"is LLVM {toolchain.major + 1}\.0\.0 but .* is clang {version}"):
        build_inliner_plugin(
            aot_dir, tmp_path / "out", clang=toolchain.clang, llvm_config=reporting(f"{toolchain.major + 1}.0.0")
        )
    assert not (tmp_path / "out").exists()


def test_no_llvm_config_names_the_package(toolchain, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    alone = Toolchain(tmp_path / "clang", toolchain.version, toolchain.version_text, tools={})
    with pytest.raises(ExportError, match=rf"needs llvm-config-{toolchain.major} .*apt-get install -y llvm-\d+-dev"):
        find_llvm_dev(alone)


def test_a_folder_without_the_model_object_or_of_another_problem_is_refused(aot_dir, tmp_path):
    no_object = tmp_path / "no_object"
    shutil.copytree(aot_dir, no_object)
    (no_object / "InlinerSizeModel.o").unlink()
    with pytest.raises(ExportError, match="no model object InlinerSizeModel.o"):
        check_inliner_model(no_object)
    eviction = tmp_path / "eviction"
    eviction.mkdir()
    (eviction / "RegAllocEvictModel.h").write_text(
        "namespace llvm {\nclass RegAllocEvictModel final : public tensorflow::XlaCompiledCpuFunction {};\n}\n"
    )
    with pytest.raises(ExportError, match="holds llvm::RegAllocEvictModel, not llvm::InlinerSizeModel"):
        check_inliner_model(eviction)
    with pytest.raises(ExportError, match="no header of an AOT-compiled policy"):
        check_inliner_model(tmp_path / "missing")
