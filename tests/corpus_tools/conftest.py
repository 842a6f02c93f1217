"""Fixtures for the corpus tools tests: one real CMake build of a small C/C++ project per session."""

from __future__ import annotations

import pytest

from tests.corpus_tools.helpers import cmake_build, write_project


@pytest.fixture(scope="session")
def project_build(toolchain, tmp_path_factory):
    """A CMake build of the test project with embedded bitcode: (source folder, build folder)."""
    root = tmp_path_factory.mktemp("project")
    source = write_project(root / "src")
    return source, cmake_build(toolchain, source, root / "build")
