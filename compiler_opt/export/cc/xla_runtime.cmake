# The XLA AOT runtime as the static library mlgo_xla_runtime, built from the TensorFlow wheel's sources.
# Shared by the check harness (this folder), the native driver (../native) and the inliner plugin
# (../plugin). Set before including:
#
#   TENSORFLOW_AOT_PATH  the tensorflow package folder of the wheel that compiled the model: the runtime
#                        sources are in its xla_aot_runtime_src/, the headers in include/
#   MLGO_XLA_RUNTIME     "minimal" (the few files every small policy links against, seconds to build) or
#                        "full" (all of them, as LLVM's build uses; minutes)
#
# The library is position independent, so a shared object (the plugin) can link it.
set(TENSORFLOW_AOT_PATH "" CACHE PATH "the tensorflow package folder of the wheel that compiled the model")
set(MLGO_XLA_RUNTIME "minimal" CACHE STRING "which XLA AOT runtime sources to build: minimal or full")
if(NOT TENSORFLOW_AOT_PATH)
  message(FATAL_ERROR "set -DTENSORFLOW_AOT_PATH=... (the tensorflow package folder)")
endif()
set(mlgo_runtime_root ${TENSORFLOW_AOT_PATH}/xla_aot_runtime_src)
if(NOT EXISTS ${mlgo_runtime_root})
  message(FATAL_ERROR "${mlgo_runtime_root} does not exist: TENSORFLOW_AOT_PATH must be a tensorflow package folder")
endif()

if(MLGO_XLA_RUNTIME STREQUAL "minimal")
  set(mlgo_runtime_sources
    tensorflow/compiler/tf2xla/xla_compiled_cpu_function.cc
    xla/cpu_function_runtime.cc
    xla/executable_run_options.cc
    xla/service/cpu/runtime_custom_call_status.cc
    xla/service/custom_call_status.cc
    xla/tsl/concurrency/async_value.cc
    xla/tsl/concurrency/async_value_ref.cc
    xla/tsl/platform/default/env_time.cc)
  list(TRANSFORM mlgo_runtime_sources PREPEND ${mlgo_runtime_root}/)
elseif(MLGO_XLA_RUNTIME STREQUAL "full")
  file(GLOB_RECURSE mlgo_runtime_sources ${mlgo_runtime_root}/*.cc)
else()
  message(FATAL_ERROR "MLGO_XLA_RUNTIME must be minimal or full, not ${MLGO_XLA_RUNTIME}")
endif()

add_library(mlgo_xla_runtime STATIC ${mlgo_runtime_sources})
set_target_properties(mlgo_xla_runtime PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(mlgo_xla_runtime PUBLIC ${TENSORFLOW_AOT_PATH}/include)
target_compile_definitions(mlgo_xla_runtime PUBLIC _GLIBCXX_USE_CXX11_ABI=1)
target_compile_options(mlgo_xla_runtime PRIVATE -w)
find_package(Threads REQUIRED)
target_link_libraries(mlgo_xla_runtime PUBLIC Threads::Threads)
