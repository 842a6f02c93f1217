"""Packaging: a wheel and an editable install build without setuptools' warning walls, data files included."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# setuptools' warnings name their class (`BuildBackendWarning: ...`); pip's own say `WARNING:`.
SETUPTOOLS_WARNING = re.compile(r"\w+Warning:")
DATA_FOLDERS = (
    "compiler_opt/export/cc",
    "compiler_opt/problems/gin",
    "compiler_opt/policy/gin",
    "corpus_tools/drivers",
)
PROJECT = ("setup.cfg", "pyproject.toml", "README.md", "mlgo", "compiler_opt", "corpus_tools")


def _project_copy(folder: Path) -> Path:
    """What a build reads, copied to `folder` (a build writes `build/` and `*.egg-info` next to it)."""
    folder.mkdir()
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, folder / name)
    return folder


def _pip(project: Path, *args: str) -> subprocess.CompletedProcess:
    """This venv's pip (the one bootstrap upgrades), run in `project`."""
    return subprocess.run([sys.executable, "-m", "pip", *args], cwd=project, capture_output=True, text=True, check=True)


def _data_files() -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for folder in DATA_FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py"
    }


def test_wheel_builds_quietly_with_its_data_files(tmp_path):
    result = _pip(_project_copy(tmp_path / "project"), "wheel", "--no-deps", "-w", str(tmp_path), ".")
    assert not SETUPTOOLS_WARNING.search(result.stdout + result.stderr)
    (wheel,) = tmp_path.glob("mlgo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _data_files() <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_editable_install_is_quiet(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    project = _project_copy(tmp_path / "project")
    result = _pip(project, "--python", str(python), "install", "-q", "--no-deps", "-e", ".")
    assert not SETUPTOOLS_WARNING.search(result.stdout + result.stderr)
    found = subprocess.run(
        [str(python), "-c", "import compiler_opt.export.cc as cc; print(cc.__path__[0])"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found) == project / "compiler_opt" / "export" / "cc"
