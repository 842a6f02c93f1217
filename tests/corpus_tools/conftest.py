"""Fixtures for the corpus tools tests: the real toolchain and one CMake build per session."""

from __future__ import annotations

import pytest

from compiler_opt.llvm.toolchain import find_toolchain
from tests.corpus_tools.helpers import cmake_build, write_project


@pytest.fixture(scope="session")
def toolchain():
    return find_toolchain()


@pytest.fixture(scope="session")
def project_build(toolchain, tmp_path_factory):
    """A CMake build of the test project with embedded bitcode: (source folder, build folder)."""
    root = tmp_path_factory.mktemp("project")
    source = write_project(root / "src")
    return source, cmake_build(toolchain, source, root / "build")
