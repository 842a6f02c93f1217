"""Sanitizing untrusted cc1 command lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler_opt.llvm.cmdline import CompileCommand, UnsafeCommandLine, read_cmd_file, sanitize_cc1

BASE = ["-cc1", "-triple", "x86_64-pc-linux-gnu", "-emit-obj", "-Oz", "-main-file-name", "src/a.c", "-fmath-errno"]


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
        (["-mmlir", "--load-pass-plugin=/tmp/evil.so"], "-mmlir"),
        (["-o"], "without a value"),
        (["/tmp/other-input.c"], "unexpected input"),
        # Response files: the driver expands `@file` anywhere, value slots included (issue: -D @evil.rsp).
        (["-D", "@/tmp/evil.rsp"], "response file"),
        (["-I", "@evil.rsp"], "response file"),
        (["-mllvm", "@/tmp/evil.rsp"], "response file"),
        (["-triple", "@x"], "response file"),
        (["@/tmp/evil.rsp"], "response file"),
        # Flags the old hand list took for value-taking options: what follows is an input, not a value.
        (["-fmath-errno", "/tmp/second-input.bc"], "unexpected input"),
        (["-fcolor-diagnostics", "/tmp/second-input.bc"], "unexpected input"),
        (["-vectorize-loops", "/tmp/second-input.bc"], "unexpected input"),
        # Options that read files on the machine into the module or the compile.
        (["-mlink-bitcode-file", "/etc/passwd"], "-mlink-bitcode-file"),
        (["-mlink-builtin-bitcode", "lib.bc"], "-mlink-builtin-bitcode"),
        (["-fprofile-instrument-use-path=/tmp/x.profdata"], "-fprofile-instrument-use-path="),
        (["-fsanitize-ignorelist=/etc/shadow"], "-fsanitize-ignorelist="),
        (["-fxray-always-instrument=list.txt"], "-fxray-always-instrument="),
        (["-mllvm", "-some-option=/etc/passwd"], "-some-option"),
        (["-fsome-future-option=/etc/passwd"], "/etc/passwd"),
        (["--config=evil.cfg"], "--config="),
        (["-chain-include", "evil.h"], "-chain-include"),
        (["-target-cpu", "../../cpu"], "-target-cpu"),
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
    args = BASE + [
        "-mllvm",
        "-inline-threshold=100",
        "-fdebug-compilation-dir=/home/me/build",
        "-target-feature",
        "+sse4.2",
    ]
    assert sanitize_cc1(args, "m")[-5:] == [
        "-mllvm",
        "-inline-threshold=100",
        "-fdebug-compilation-dir=/home/me/build",
        "-target-feature",
        "+sse4.2",
    ]


@pytest.mark.parametrize(
    "preprocessing",
    [
        ["-I", "include"],
        ["-I/usr/include"],
        ["-D", "NAME=1"],
        ["-DNAME=/x"],
        ["-U", "X"],
        ["-include", "/etc/passwd"],
        ["-resource-dir", "/usr/lib/llvm-19/lib/clang/19"],
        ["-internal-isystem", "/usr/include"],
        ["-ivfsoverlay", "/tmp/overlay.yaml"],
        ["-x", "c"],
        ["-fmodule-file=/tmp/m.pcm"],
        ["-working-directory", "/tmp"],
    ],
)
def test_preprocessor_options_are_dropped(preprocessing):
    """They read files but cannot change how IR compiles, so they go, value and all."""
    assert sanitize_cc1(BASE + preprocessing, "m") == [a for a in BASE if a != "-emit-obj"]


def test_final_command_writes_only_the_jobs_output(toolchain, tmp_path):
    cmd = tmp_path / "m.cmd"
    cmd.write_bytes(b"\0".join(a.encode() for a in BASE + ["-o", "/etc/passwd"]) + b"\0")
    command = CompileCommand.from_cc1(toolchain, read_cmd_file(cmd), tmp_path / "m.bc", origin="m")
    argv = command.argv(tmp_path / "job" / "m.o", ["-mllvm", "-x=1"])
    assert "/etc/passwd" not in argv
    assert argv[-5:] == ["-x", "ir", str(tmp_path / "m.bc"), "-o", str(tmp_path / "job" / "m.o")]
    assert argv.count("-o") == 1 and argv.count("-emit-obj") == 1


def test_input_and_output_paths_are_never_options(toolchain, tmp_path):
    """A module named like an option (`-fpass-plugin=./evil`) reaches clang as a file, not an option."""
    command = CompileCommand.from_cc1(toolchain, BASE, Path("-fpass-plugin=./evil.bc"), origin="m")
    argv = command.argv(Path("@out.o"))
    assert argv[-3:] == ["./-fpass-plugin=./evil.bc", "-o", "./@out.o"]
    assert command.argv(tmp_path / "m.o")[-1] == str(tmp_path / "m.o")


def test_huge_cmd_file_is_refused_without_reading_it_whole(tmp_path):
    cmd = tmp_path / "m.cmd"
    with open(cmd, "wb") as stream:
        stream.write(b"-cc1\0")
        stream.truncate(200 << 20)
    with pytest.raises(UnsafeCommandLine, match="larger than"):
        read_cmd_file(cmd)


def test_binary_cmd_file_is_refused(tmp_path):
    cmd = tmp_path / "m.cmd"
    cmd.write_bytes(b"\xff\xfe\x00-cc1")
    with pytest.raises(UnsafeCommandLine, match="not a text command line"):
        read_cmd_file(cmd)
