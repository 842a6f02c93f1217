"""`mlgo cc` / `mlgo-clang`: a real make build with the policy, and clang's behaviour kept everywhere else."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from compiler_opt.collect.compile_job import CompileTask, run_compile_task
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.llvm.driver import COMPILE, TOOL, parse_job_line, plan_jobs
from compiler_opt.paths import cache_dir
from compiler_opt.policy.saved import load_fast_policy
from corpus_tools.extract import extract, objects_from_directory

BIN = Path(sys.executable).parent

MAKEFILE = """\
SRC := $(wildcard src/*.c)
OBJ := $(patsubst src/%.c,obj/%.o,$(SRC))
CFLAGS ?= -Oz
all: liblz4.a
obj/%.o: src/%.c
\t@mkdir -p obj
\t$(CC) $(CFLAGS) -c $< -o $@
liblz4.a: $(OBJ)
\t$(AR) rcs $@ $^
"""


def project(root: Path) -> Path:
    """lz4's library (4 C files, from the sample corpus's pinned archive) with a plain Makefile."""
    archive = next((cache_dir() / "sample" / "downloads").glob("lz4-*.tar.gz"))
    (root / "src").mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/lz4libs/" in member.name and member.name.endswith((".c", ".h")):
                member.name = os.path.basename(member.name)
                tar.extract(member, root / "src", filter="data")
    (root / "Makefile").write_text(MAKEFILE)
    return root


def text_section(toolchain, obj: Path, workdir: Path) -> bytes:
    out = workdir / (obj.name + ".text")
    subprocess.run(
        [str(toolchain.tool("llvm-objcopy")), "-O", "binary", "--only-section=.text", str(obj), str(out)], check=True
    )
    return out.read_bytes()


def env_with(policy_dir: Path, toolchain, **extra: str) -> dict:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLGO_POLICY": str(policy_dir),
        "MLGO_CLANG": str(toolchain.clang),
        **extra,
    }


def mlgo_cc(
    policy_dir: Path | str, *clang_args: str, cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", "cc", "--policy", str(policy_dir), "--", *clang_args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.mark.slow
def test_make_j2_with_mlgo_clang_gives_the_objects_mlgo_eval_compiles(policy_dir, small_sample, toolchain, tmp_path):
    policy_build = project(tmp_path / "policy")
    run = subprocess.run(
        ["make", "-j2", "CC=mlgo-clang"],
        cwd=policy_build,
        capture_output=True,
        text=True,
        env=env_with(policy_dir, toolchain),
    )
    assert run.returncode == 0, run.stderr
    assert (policy_build / "liblz4.a").is_file()
    # The same project, built with clang's own heuristic and embedded bitcode, then extracted as a corpus.
    embedded = project(tmp_path / "embedded")
    run = subprocess.run(
        ["make", "-j2", f"CC={toolchain.clang}", "CFLAGS=-Oz -Xclang -fembed-bitcode=all"],
        cwd=embedded,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    extract(objects_from_directory(embedded / "obj"), tmp_path / "corpus", toolchain=toolchain)
    corpus = load_corpus(tmp_path / "corpus")
    policy = load_fast_policy(policy_dir)
    objects = sorted((policy_build / "obj").glob("*.o"))
    assert len(corpus) == len(objects) == 4
    differs_from_default = 0
    for module in corpus:
        name = module.name.rsplit("/", 1)[-1]
        result = run_compile_task(
            CompileTask(module, "inlining", str(toolchain.clang), policy, explore=False, record=False, keep_object=True)
        )
        assert result.decisions > 0
        (tmp_path / f"{name}.eval.o").write_bytes(result.object)
        expected = text_section(toolchain, tmp_path / f"{name}.eval.o", tmp_path)
        assert text_section(toolchain, policy_build / "obj" / f"{name}.o", tmp_path) == expected, name
        differs_from_default += expected != text_section(toolchain, embedded / "obj" / f"{name}.o", tmp_path)
    assert differs_from_default > 0  # the policy really decided: its objects are not clang's -Oz ones


def test_a_program_from_two_files_links_and_runs_leaving_no_temporaries(policy_dir, toolchain, tmp_path):
    (tmp_path / "a.c").write_text("int twice(int);\nint main(void) { return twice(21) == 42 ? 0 : 1; }\n")
    (tmp_path / "b.c").write_text(
        "static int add(int a, int b) { return a + b; }\nint twice(int x) { return add(x, x); }\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = env_with(policy_dir, toolchain, TMPDIR=str(temp))
    run = mlgo_cc(policy_dir, "-Oz", "a.c", "b.c", "-o", "prog", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert subprocess.run([str(tmp_path / "prog")]).returncode == 0
    assert [p.name for p in temp.iterdir() if not p.name.startswith("mlgo-cpus-")] == []


def test_clangs_own_behaviour_passes_through(policy_dir, toolchain, tmp_path):
    env = env_with(policy_dir, toolchain)
    (tmp_path / "ok.c").write_text("#define N 3\nint f(int x) { return x * N; }\n")
    (tmp_path / "bad.c").write_text("int f(void) { return undeclared; }\n")
    run = mlgo_cc(policy_dir, "--version", cwd=tmp_path, env=env)
    assert run.returncode == 0 and "clang version" in run.stdout
    run = mlgo_cc(policy_dir, "-O0", "-c", "ok.c", "-o", "ok0.o", cwd=tmp_path, env=env)  # no advisor at -O0
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "ok0.o").stat().st_size > 0
    run = mlgo_cc(policy_dir, "-E", "ok.c", cwd=tmp_path, env=env)
    assert run.returncode == 0 and "return x * 3;" in run.stdout
    run = mlgo_cc(policy_dir, "-Oz", "-c", "bad.c", "-o", "bad.o", cwd=tmp_path, env=env)
    assert run.returncode == 1
    assert "use of undeclared identifier 'undeclared'" in run.stderr
    run = mlgo_cc(policy_dir, "-Oz", "-c", "missing.c", cwd=tmp_path, env=env)
    assert run.returncode != 0 and "no such file or directory" in run.stderr


def test_a_policy_per_language_answers_each_compile_with_its_languages_member(policy_dir, toolchain, tmp_path):
    source = "static int mix(int a, int b) { return a * b + a; }\nint f(int x) { return mix(x, x) + mix(x, 1); }\n"
    (tmp_path / "f.c").write_text(source)
    (tmp_path / "g.cpp").write_text(source)
    env = env_with(policy_dir, toolchain)

    def text(policy: str, source: str) -> bytes:
        obj = tmp_path / f"{len(list(tmp_path.iterdir()))}.o"
        run = mlgo_cc(policy, "-Oz", "-c", source, "-o", str(obj), cwd=tmp_path, env=env)
        assert run.returncode == 0, run.stderr
        return text_section(toolchain, obj, tmp_path)

    subprocess.run([str(toolchain.clang), "-Oz", "-c", "f.c", "-o", "plain.o"], cwd=tmp_path, check=True)
    plain = text_section(toolchain, tmp_path / "plain.o", tmp_path)
    never_for_c, default_for_c = f"c=never,c++={policy_dir}", f"c=default,*={policy_dir}"
    assert text(never_for_c, "f.c") != plain  # `never` kept the calls -Oz inlines
    assert text(default_for_c, "f.c") == plain
    assert text(never_for_c, "g.cpp") == text(default_for_c, "g.cpp") == text(str(policy_dir), "g.cpp")
    run = mlgo_cc("c=never,c++=default", "-Oz", "-c", "f.c", cwd=tmp_path, env=env)
    assert run.returncode == 2 and "names only built-in policies: name their problem" in run.stderr
    run = mlgo_cc(f"c++={policy_dir}", "-Oz", "-c", "f.c", cwd=tmp_path, env=env)
    assert run.returncode != 0 and "no member for c modules" in run.stderr


def test_mlgo_clang_without_a_policy_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLGO_POLICY"}
    run = subprocess.run([str(BIN / "mlgo-clang"), "-c", "x.c"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 2 and "set MLGO_POLICY" in run.stderr


def test_mlgo_cc_compiles_nothing_without_a_policy_but_answers_version(toolchain, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLGO_POLICY"}
    (tmp_path / "x.c").write_text("int f(void) { return 1; }\n")
    run = subprocess.run(
        [str(BIN / "mlgo"), "cc", "--clang", str(toolchain.clang), "--", "-Oz", "-c", "x.c"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode != 0 and "mlgo cc --policy" in run.stderr and not (tmp_path / "x.o").exists()
    run = subprocess.run(
        [str(BIN / "mlgo"), "cc", "--clang", str(toolchain.clang), "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0 and "clang version" in run.stdout


def test_job_lines_are_parsed_with_clangs_escapes():
    assert parse_job_line(' "/usr/bin/clang" "-cc1" "-D" "X=\\"$a\\\\b\\"" "-o" "a b.o"') == (
        "/usr/bin/clang",
        "-cc1",
        "-D",
        'X="$a\\b"',
        "-o",
        "a b.o",
    )
    assert parse_job_line("Target: x86_64-pc-linux-gnu") is None
    assert parse_job_line(" (in-process)") is None


def test_intermediate_objects_move_into_the_private_folder(toolchain, tmp_path):
    private = tmp_path / "private"
    sources = [tmp_path / "a.c", tmp_path / "b.c"]
    for source in sources:
        source.write_text("int x;\n")
    jobs = plan_jobs(str(toolchain.clang), ["-Oz", *map(str, sources), "-o", "prog"], private)
    assert [job.kind for job in jobs] == [COMPILE, COMPILE, TOOL]
    for job in jobs[:2]:
        assert Path(job.output).parent == private and job.output in jobs[2].argv
    assert jobs[2].output == "prog"
    assert plan_jobs(str(toolchain.clang), ["--version"], private) is None


@pytest.mark.slow
def test_cmake_accepts_mlgo_clang_as_its_c_and_cxx_compilers(policy_dir, toolchain, tmp_path):
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(demo C CXX)\n"
        "add_library(demo STATIC a.c b.cc)\nadd_executable(app main.c)\ntarget_link_libraries(app demo)\n"
    )
    (tmp_path / "a.c").write_text("int a(int x) { return x * 2; }\n")
    (tmp_path / "b.cc").write_text('extern "C" int b(int x) { return x + 1; }\n')
    (tmp_path / "main.c").write_text("int a(int); int b(int);\nint main(void) { return a(b(1)) == 4 ? 0 : 1; }\n")
    env = env_with(policy_dir, toolchain, CC="mlgo-clang", CXX="mlgo-clang++")
    configure = subprocess.run(
        ["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build"), "-DCMAKE_BUILD_TYPE=MinSizeRel"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "The C compiler identification is Clang" in configure.stdout
    build = subprocess.run(
        ["cmake", "--build", str(tmp_path / "build"), "-j2"], capture_output=True, text=True, env=env
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert subprocess.run([str(tmp_path / "build" / "app")]).returncode == 0


_SLEEPY_CLANG = """#!{python}
import os, sys, time
args = sys.argv[1:]
if not any(a.endswith("sleepy.c") for a in args):
    os.execv({real!r}, [{real!r}, *args])
with open({pid_file!r}, "w") as stream:
    stream.write(str(os.getpid()))
time.sleep(600)
"""


def test_sigterm_to_mlgo_clang_ends_the_compile_and_leaves_nothing(policy_dir, toolchain, tmp_path):
    """A build tool stopping mlgo-clang (SIGTERM): exit 143, the compiler killed, its FIFOs' folder removed."""
    import signal
    import time

    pid_file = tmp_path / "sleepy.pid"
    wrapper = tmp_path / "clang"
    wrapper.write_text(_SLEEPY_CLANG.format(python=sys.executable, real=str(toolchain.clang), pid_file=str(pid_file)))
    wrapper.chmod(0o755)
    (tmp_path / "sleepy.c").write_text("int f(void) { return 1; }\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = env_with(
        policy_dir, toolchain, MLGO_CLANG=str(wrapper), TMPDIR=str(tmpdir), MLGO_CACHE_DIR=str(tmp_path / "cache")
    )
    process = subprocess.Popen(
        [str(BIN / "mlgo-clang"), "-Oz", "-c", "sleepy.c"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert time.monotonic() < deadline and process.poll() is None, "the compiler never started"
            time.sleep(0.1)
        compiler = int(pid_file.read_text())
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 143, stderr
        assert "Traceback" not in stderr
        time.sleep(0.2)
        assert not Path(f"/proc/{compiler}").exists() or "Z" in Path(f"/proc/{compiler}/stat").read_text().split()[2]
        assert list(tmpdir.iterdir()) == []
    finally:
        process.kill()
