"""Where the project keeps its per-user caches."""

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
