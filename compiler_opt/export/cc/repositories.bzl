"""Repository rules behind the project's WORKSPACE: the XLA AOT runtime, and an exported policy.

xla_aot_runtime_repository: the runtime sources and headers shipped in the TensorFlow wheel (the
wheel that compiled the policy), from $TENSORFLOW_AOT_PATH, else the `tensorflow` package of the
project's .venv. Its //:runtime builds the minimal set of sources every small policy links against,
or all of them with MLGO_XLA_RUNTIME=full (as LLVM's own build does; minutes).

mlgo_policy_repository: the aot/ folder `mlgo export --aot` wrote, named by $MLGO_AOT_DIR; that
folder carries its own BUILD.bazel, whose //:policy is the model's cc_library.
"""

_MINIMAL_RUNTIME = [
    "tensorflow/compiler/tf2xla/xla_compiled_cpu_function.cc",
    "xla/cpu_function_runtime.cc",
    "xla/executable_run_options.cc",
    "xla/service/cpu/runtime_custom_call_status.cc",
    "xla/service/custom_call_status.cc",
    "xla/tsl/concurrency/async_value.cc",
    "xla/tsl/concurrency/async_value_ref.cc",
    "xla/tsl/platform/default/env_time.cc",
]

_FIND_TENSORFLOW = "import importlib.util; print(importlib.util.find_spec('tensorflow').submodule_search_locations[0])"

def _tensorflow_path(ctx):
    explicit = ctx.os.environ.get("TENSORFLOW_AOT_PATH")
    if explicit:
        return ctx.path(explicit)
    python = ctx.path(Label("//:WORKSPACE")).dirname.get_child(".venv").get_child("bin").get_child("python")
    if not python.exists:
        fail("set TENSORFLOW_AOT_PATH to the tensorflow package folder, or run scripts/bootstrap.sh for .venv")
    result = ctx.execute([python, "-c", _FIND_TENSORFLOW])
    if result.return_code != 0:
        fail("cannot find TensorFlow in %s: %s" % (python, result.stderr))
    return ctx.path(result.stdout.strip())

def _xla_aot_runtime_impl(ctx):
    tensorflow = _tensorflow_path(ctx)
    sources = tensorflow.get_child("xla_aot_runtime_src")
    if not sources.exists:
        fail("%s has no xla_aot_runtime_src: not a TensorFlow wheel with XLA AOT support" % tensorflow)
    ctx.symlink(tensorflow.get_child("include"), "include")
    ctx.symlink(sources, "src")
    full = ctx.os.environ.get("MLGO_XLA_RUNTIME") == "full"
    srcs = 'glob(["src/**/*.cc"])' if full else repr(["src/" + path for path in _MINIMAL_RUNTIME])
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """\
cc_library(
    name = "runtime",
    srcs = {srcs},
    hdrs = glob(["include/**"]),
    includes = ["include"],
    copts = ["-w", "-std=c++17"],
    defines = ["_GLIBCXX_USE_CXX11_ABI=1"],
    linkopts = ["-lpthread"],
    visibility = ["//visibility:public"],
)
""".format(srcs = srcs))

xla_aot_runtime_repository = repository_rule(
    implementation = _xla_aot_runtime_impl,
    environ = ["TENSORFLOW_AOT_PATH", "MLGO_XLA_RUNTIME"],
    local = True,
)

def _mlgo_policy_impl(ctx):
    folder = ctx.os.environ.get("MLGO_AOT_DIR")
    if not folder:
        ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
        ctx.file("BUILD.bazel", """\
genrule(
    name = "policy",
    outs = ["policy.missing"],
    cmd = "echo 'set MLGO_AOT_DIR to the aot/ folder of mlgo export --aot' >&2; exit 1",
    visibility = ["//visibility:public"],
)
""")
        return
    aot = ctx.path(folder)
    if not aot.get_child("BUILD.bazel").exists:
        fail("MLGO_AOT_DIR=%s has no BUILD.bazel: point it at the aot/ folder of `mlgo export --aot`" % folder)
    for child in aot.readdir():
        ctx.symlink(child, child.basename)

mlgo_policy_repository = repository_rule(
    implementation = _mlgo_policy_impl,
    environ = ["MLGO_AOT_DIR"],
    local = True,
)
