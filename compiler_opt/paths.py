"""Where the project keeps its per-user caches, and how a cache file is written whole or not at all."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: $MLGO_CACHE_DIR, else $XDG_CACHE_HOME/mlgo, else ~/.cache/mlgo."""
    explicit = os.environ.get("MLGO_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mlgo"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the whole new one, even after a kill: a temporary
    file beside it, fsynced, then renamed into place (the folder is made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
