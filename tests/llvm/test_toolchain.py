"""Finding clang and probing what it supports."""

from __future__ import annotations

import sys

import pytest

from compiler_opt.llvm import toolchain as toolchain_module
from compiler_opt.llvm.toolchain import ToolchainError, find_toolchain


def test_finds_a_recent_clang_with_its_tools(toolchain):
    assert toolchain.major >= 17
    assert toolchain.tool("llvm-size").name.startswith("llvm-size")
    assert toolchain.tool("llvm-objcopy").exists()


def test_explicit_path_wins(toolchain, monkeypatch):
    monkeypatch.setenv("MLGO_CLANG", "/nonexistent/clang")
    assert find_toolchain(str(toolchain.clang)).clang == toolchain.clang
    with pytest.raises(ToolchainError, match="/nonexistent/clang"):
        find_toolchain()


def _fake_clang(tmp_path, version: str):
    fake = tmp_path / f"clang-{version}"
    fake.write_text(f"#!{sys.executable}\nprint('clang version {version} (fake)')\n")
    fake.chmod(0o755)
    return fake


def test_old_clang_is_refused_with_reason_and_remedy(tmp_path):
    with pytest.raises(ToolchainError) as error:
        find_toolchain(_fake_clang(tmp_path, "14.0.6"))
    message = str(error.value)
    assert "clang >= 17" in message and "interactive mode" in message and "apt-get install clang-19" in message


def test_not_a_clang(tmp_path):
    fake = tmp_path / "cc"
    fake.write_text(f"#!{sys.executable}\nprint('gcc (Debian 12.2.0) 12.2.0')\n")
    fake.chmod(0o755)
    with pytest.raises(ToolchainError, match="does not look like clang"):
        find_toolchain(fake)


def test_probe_finds_all_three_advisors_and_is_cached(toolchain, tmp_path, monkeypatch):
    monkeypatch.setenv("MLGO_CACHE_DIR", str(tmp_path))
    probe = toolchain.probe()
    assert probe.advisors == {"inlining", "regalloc-eviction", "regalloc-priority"}
    assert list((tmp_path / "toolchains").glob("*.json"))

    def no_second_probe(_):
        raise AssertionError("probed twice")

    monkeypatch.setattr(toolchain_module, "_run_probe", no_second_probe)
    assert toolchain.probe() == probe


def test_default_inlining_decision_slot_is_detected(toolchain, tmp_path, monkeypatch):
    """LLVM 19.1 puts the default decision in the slot named callee_basic_block_count (FACTS.md)."""
    monkeypatch.setenv("MLGO_CACHE_DIR", str(tmp_path))
    slot = toolchain.probe().facts["inlining_default_feature"]
    if toolchain.version[:2] == (19, 1):
        assert slot == "callee_basic_block_count"
    else:
        assert slot in ("inlining_default", "callee_basic_block_count")


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(60)
def test_hung_version_probe_is_bounded_and_leaves_no_child(tmp_path, monkeypatch):
    """`--version` that never answers (and started a child holding its output) is killed, child and all."""
    marker = tmp_path / "child.pid"
    fake = tmp_path / "clang"
    fake.write_text(
        f"#!{sys.executable}\nimport subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\ntime.sleep(600)\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(toolchain_module, "VERSION_TIMEOUT", 2.0)
    with pytest.raises(ToolchainError, match=f"{fake} --version did not answer within 2 s"):
        find_toolchain(fake)
    assert not _alive(int(marker.read_text()))


def test_undecodable_version_output_is_a_clear_error(tmp_path):
    fake = tmp_path / "clang"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write(b'\\xff\\xfe cl\\xe4ng 19\\n')\n")
    fake.chmod(0o755)
    with pytest.raises(ToolchainError, match=f"{fake} does not look like clang"):
        find_toolchain(fake)


def test_failing_version_probe_names_the_binary(tmp_path):
    fake = tmp_path / "clang"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('no such option')\n")
    fake.chmod(0o755)
    with pytest.raises(ToolchainError, match=f"{fake} --version failed \\(exit status 1\\): 'no such option'"):
        find_toolchain(fake)
