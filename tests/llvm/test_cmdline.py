"""Sanitizing untrusted cc1 command lines."""

from __future__ import annotations

import pytest

from compiler_opt.llvm.cmdline import CompileCommand, UnsafeCommandLine, read_cmd_file, sanitize_cc1

BASE = ["-cc1", "-triple", "x86_64-pc-linux-gnu", "-emit-obj", "-Oz", "-main-file-name", "a.c", "-I", "include"]


@pytest.mark.parametrize(
    "hostile",
    [
        ["-o", "/etc/passwd"],
        ["-dependency-file", "/tmp/evil.d", "-MT", "x.o", "-sys-header-deps"],
        ["-opt-record-file", "/tmp/evil.yaml", "-opt-record-passes", "inline"],
        ["-ftime-trace=/tmp/trace.json", "-ftime-trace"],
        ["-serialize-diagnostic-file", "/tmp/x.dia"],
        ["-coverage-notes-file=/tmp/x.gcno", "-coverage-data-file=/tmp/x.gcda"],
        ["-fprofile-instrument-path=/tmp/x.profraw"],
        ["-split-dwarf-output", "/tmp/x.dwo"],
        ["-fcrash-diagnostics-dir=/tmp/crash"],
        ["-fmodules-cache-path=/tmp/cache"],
        ["-stats-file=/tmp/stats"],
        ["-fembed-bitcode=all"],
        ["-fthinlto-index=/elsewhere/index.bc"],
        ["-emit-llvm", "-S"],
    ],
)
def test_output_writing_options_are_removed(hostile):
    sanitized = sanitize_cc1(BASE + hostile, "m")
    assert sanitized == [a for a in BASE if a != "-emit-obj"]


@pytest.mark.parametrize(
    "hostile, culprit",
    [
        (["-load", "/tmp/evil.so"], "-load"),
        (["-fpass-plugin=/tmp/evil.so"], "-fpass-plugin"),
        (["-load-pass-plugin", "/tmp/evil.so"], "-load-pass-plugin"),
        (["-add-plugin", "evil"], "-add-plugin"),
        (["-plugin", "evil"], "-plugin"),
        (["-plugin-arg-evil", "x"], "-plugin-arg-evil"),
        (["-mllvm", "-load=/tmp/evil.so"], "-load"),
        (["-mllvm", "-inliner-interactive-channel-base=/tmp/steal"], "interactive"),
        (["-mllvm", "-enable-ml-inliner=development"], "enable-ml-inliner"),
        (["-mllvm", "-training-log=/tmp/log"], "training-log"),
        (["-mllvm", "-info-output-file=/tmp/x"], "info-output-file"),
        (["-mllvm"], "without a value"),
        (["-o"], "without a value"),
        (["/tmp/other-input.c"], "unexpected input"),
    ],
)
def test_code_loading_and_malformed_lines_are_refused(hostile, culprit):
    with pytest.raises(UnsafeCommandLine) as error:
        sanitize_cc1(BASE + hostile, "lib/m.bc")
    assert str(error.value).startswith("lib/m.bc: ")
    assert culprit in str(error.value)


def test_must_start_with_cc1():
    with pytest.raises(UnsafeCommandLine, match="-cc1"):
        sanitize_cc1(["-c", "a.c"], "m")


def test_harmless_mllvm_and_values_are_kept():
    args = BASE + ["-mllvm", "-inline-threshold=100", "-D", "NAME=1", "-target-feature", "+sse4.2"]
    assert sanitize_cc1(args, "m")[-6:] == ["-mllvm", "-inline-threshold=100", "-D", "NAME=1", "-target-feature",
                                            "+sse4.2"]


def test_final_command_writes_only_the_jobs_output(toolchain, tmp_path):
    cmd = tmp_path / "m.cmd"
    cmd.write_bytes(b"\0".join(a.encode() for a in BASE + ["-o", "/etc/passwd"]) + b"\0")
    command = CompileCommand.from_cc1(toolchain, read_cmd_file(cmd), tmp_path / "m.bc", origin="m")
    argv = command.argv(tmp_path / "job" / "m.o", ["-mllvm", "-x=1"])
    assert "/etc/passwd" not in argv
    assert argv[-5:] == ["-x", "ir", str(tmp_path / "m.bc"), "-o", str(tmp_path / "job" / "m.o")]
    assert argv.count("-o") == 1 and argv.count("-emit-obj") == 1


def test_binary_cmd_file_is_refused(tmp_path):
    cmd = tmp_path / "m.cmd"
    cmd.write_bytes(b"\xff\xfe\x00-cc1")
    with pytest.raises(UnsafeCommandLine, match="not a text command line"):
        read_cmd_file(cmd)
