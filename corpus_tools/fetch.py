"""Fetch pinned source distributions from PyPI with pip, verify them, unpack them.

Downloads go through `python -m pip download --no-deps --no-binary NAME`, so
pip's index, proxy and certificate settings apply. An archive whose sha256
differs from the recipe's is deleted and refused. Archives and unpacked trees
are kept under the cache folder, so later builds need no network.

Several builds may share that folder at once: each cache entry is fetched or
unpacked under a lock file beside it (`cache_lock`), and an archive is
unpacked into a temporary folder that is renamed into place once complete,
so a second caller waits and then reuses the entry, and nobody ever sees or
deletes a half-unpacked tree another caller is using.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from compiler_opt.corpus.layout import CorpusError
from corpus_tools.recipe import Package

_PIP_TAIL = 1500


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def cache_lock(entry: Path) -> Iterator[None]:
    """Hold the exclusive lock of the cache entry `entry` (the file `.<name>.lock` beside it) while in the block."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.parent / f".{entry.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fetch(package: Package, downloads: Path) -> Path:
    """The verified archive of `package` in `downloads`, downloading it with pip when absent."""
    archive = downloads / package.archive
    with cache_lock(archive):
        return _fetch_locked(package, downloads, archive)


def _fetch_locked(package: Package, downloads: Path, archive: Path) -> Path:
    if not archive.is_file():
        argv = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            package.name,
            "--disable-pip-version-check",
            "-d",
            str(downloads),
            f"{package.name}=={package.version}",
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
    """`archive` unpacked into `destination/<archive name>` (once; a marker records completion).

    Concurrent callers take turns (`cache_lock`); the tree is unpacked beside
    the target and renamed into place whole.
    """
    target = destination / archive.name
    with cache_lock(target):
        if not (target / ".unpacked").is_file():
            _unpack_into_place(archive, target)
    return target


def _unpack_into_place(archive: Path, target: Path) -> None:
    for stale in target.parent.glob(f".{target.name}.partial-*"):  # left by a killed unpack (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        _extract(archive, staging)
        (staging / ".unpacked").write_text("ok\n")
        if target.exists():  # left by an unpack that was killed before this layout; no caller uses it
            shutil.rmtree(target)
        os.rename(staging, target)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise CorpusError(f"{archive}: cannot unpack it ({error}); delete it to download it again") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, folder: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise CorpusError(f"{archive}: member {member!r} escapes the archive; refusing it")
            bundle.extractall(folder)
    else:
        with tarfile.open(archive) as bundle:
            bundle.extractall(folder, filter="data")
