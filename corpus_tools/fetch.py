"""Fetch pinned source distributions from PyPI with pip, verify them, unpack them.

Downloads go through `python -m pip download --no-deps --no-binary NAME`, so
pip's index, proxy and certificate settings apply. An archive whose sha256
differs from the recipe's is deleted and refused. Archives and unpacked trees
are kept under the cache folder, so later builds need no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from corpus_tools.layout import CorpusError
from corpus_tools.recipe import Package

_PIP_TAIL = 1500


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(package: Package, downloads: Path) -> Path:
    """The verified archive of `package` in `downloads`, downloading it with pip when absent."""
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / package.archive
    if not archive.is_file():
        argv = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", package.name,
            "--disable-pip-version-check", "-d", str(downloads), f"{package.name}=={package.version}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0 or not archive.is_file():
            raise CorpusError(
                f"could not download {package.name}=={package.version} from PyPI with pip "
                f"(exit {result.returncode}); check the network or pip's index settings:\n"
                f"{(result.stderr or result.stdout)[-_PIP_TAIL:]}"
            )
    actual = sha256_of(archive)
    if actual != package.sha256:
        archive.unlink()
        raise CorpusError(
            f"{package.archive}: sha256 {actual} does not match the recipe's {package.sha256}; "
            "the download was deleted. Retry; if it persists, the index serves a different file than the one pinned"
        )
    return archive


def unpack(archive: Path, destination: Path) -> Path:
    """`archive` unpacked into `destination/<archive name>` (once; a marker records completion)."""
    target = destination / archive.name
    marker = target / ".unpacked"
    if marker.is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise CorpusError(f"{archive}: member {member!r} escapes the archive; refusing it")
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise CorpusError(f"{archive}: cannot unpack it ({error}); delete it to download it again") from error
    marker.write_text("ok\n")
    return target
