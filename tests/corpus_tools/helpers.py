"""Shared helpers for the corpus tests: a small real C/C++ CMake project and object measurements."""

from __future__ import annotations

import subprocess
from pathlib import Path

from compiler_opt.llvm.cmdline import build_compile_command
from compiler_opt.llvm.measure import object_size
from compiler_opt.llvm.toolchain import Toolchain

SOURCES = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.16)
project(shapes C CXX ASM)
add_library(geometry STATIC src/vec.c src/poly.c src/fast.S)
target_include_directories(geometry PUBLIC include)
add_executable(shapes app/main.cpp app/scene.cpp)
target_link_libraries(shapes geometry)
""",
    "include/geometry.h": """
#ifndef GEOMETRY_H
#define GEOMETRY_H
#ifdef __cplusplus
extern "C" {
#endif
typedef struct { double x, y; } vec2;
vec2 vec_add(vec2 a, vec2 b);
vec2 vec_scale(vec2 a, double k);
double vec_dot(vec2 a, vec2 b);
double poly_area(const vec2 *points, int n);
double poly_perimeter(const vec2 *points, int n);
long fast_add(long a, long b);
#ifdef __cplusplus
}
#endif
#endif
""",
    "src/vec.c": """
#include <math.h>
#include "geometry.h"
static double sq(double v) { return v * v; }
vec2 vec_add(vec2 a, vec2 b) { vec2 r = {a.x + b.x, a.y + b.y}; return r; }
vec2 vec_scale(vec2 a, double k) { vec2 r = {a.x * k, a.y * k}; return r; }
double vec_dot(vec2 a, vec2 b) { return a.x * b.x + a.y * b.y; }
double vec_len(vec2 a) { return sqrt(sq(a.x) + sq(a.y)); }
""",
    "src/poly.c": """
#include <math.h>
#include "geometry.h"
static double cross(vec2 a, vec2 b) { return a.x * b.y - a.y * b.x; }
static vec2 sub(vec2 a, vec2 b) { vec2 r = {a.x - b.x, a.y - b.y}; return r; }
static double dist(vec2 a, vec2 b) { vec2 d = sub(a, b); return sqrt(vec_dot(d, d)); }
double poly_area(const vec2 *p, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += cross(p[i], p[(i + 1) % n]);
  return s > 0 ? s / 2 : -s / 2;
}
double poly_perimeter(const vec2 *p, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += dist(p[i], p[(i + 1) % n]);
  return s;
}
""",
    "src/fast.S": """
  .text
  .globl fast_add
fast_add:
  leaq (%rdi,%rsi), %rax
  ret
""",
    "app/scene.cpp": """
#include <algorithm>
#include <string>
#include <vector>
#include "geometry.h"
struct Shape { std::string name; std::vector<vec2> points; };
std::vector<Shape> make_scene(int n) {
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    Shape s{"shape" + std::to_string(i), {}};
    for (int k = 0; k < 3 + i % 4; ++k) s.points.push_back(vec2{double(k), double(k * i % 7)});
    shapes.push_back(std::move(s));
  }
  std::sort(shapes.begin(), shapes.end(), [](const Shape &a, const Shape &b) {
    return poly_area(a.points.data(), int(a.points.size())) < poly_area(b.points.data(), int(b.points.size()));
  });
  return shapes;
}
""",
    "app/main.cpp": """
#include <cstdio>
#include <vector>
#include <string>
#include "geometry.h"
struct Shape { std::string name; std::vector<vec2> points; };
std::vector<Shape> make_scene(int n);
int main(int argc, char **) {
  double total = 0;
  for (const Shape &s : make_scene(argc + 5)) total += poly_perimeter(s.points.data(), int(s.points.size()));
  std::printf("%f %ld\\n", total, fast_add(argc, 2));
  return 0;
}
""",
}


def write_project(root: Path) -> Path:
    """Write the test project's sources under `root`; returns `root`."""
    for name, text in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root


def cmake_build(toolchain: Toolchain, source: Path, build: Path) -> Path:
    """Configure and build the project with embedded bitcode at -Oz; returns the build folder."""
    clang = str(toolchain.clang)
    clangxx = str(toolchain.clang.parent / "clang++")
    flags = "-Oz -Xclang -fembed-bitcode=all"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(source),
            "-B",
            str(build),
            "-G",
            "Ninja",
            f"-DCMAKE_C_COMPILER={clang}",
            f"-DCMAKE_CXX_COMPILER={clangxx}",
            f"-DCMAKE_ASM_COMPILER={clang}",
            f"-DCMAKE_C_FLAGS={flags}",
            f"-DCMAKE_CXX_FLAGS={flags}",
            "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
            "-DCMAKE_BUILD_TYPE=",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, text=True)
    return build


def text_size(toolchain: Toolchain, obj: Path) -> int:
    """The summed size of an object's `.text*` sections."""
    return object_size(toolchain, obj).text_section


def recompile(toolchain: Toolchain, spec, output: Path) -> Path:
    """Compile a corpus module (a `ModuleSpec`) back to an object."""
    argv = build_compile_command(toolchain, spec.cc1_args, spec.bitcode, output, thinlto_index=spec.thinlto_index)
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return output
