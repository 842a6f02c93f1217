"""The run's gin configuration: the problem's file for an algorithm, parsed with the user's files and bindings.

The operative text (`load_gin`'s result) is stored in config.json, so a
resumed run parses exactly what it started with. The configurables a run may
bind are registered by importing their modules first (the caller's part:
`compiler_opt.train` knows the learners).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import gin

import compiler_opt
from compiler_opt.errors import MlgoError
from compiler_opt.training.gin_types import check_bindings

GIN_DIR = Path(compiler_opt.__file__).parent / "problems" / "gin"
# Modules that moved since runs stored their configuration: their old import lines in a saved text.
_MOVED_MODULES = {"import compiler_opt.rl.config\n": "import compiler_opt.training.config\n"}


def default_gin_file(problem: str, algorithm: str) -> Path:
    """The problem's gin file for `algorithm` (`compiler_opt/problems/gin/<problem>/<algorithm>.gin`)."""
    path = GIN_DIR / problem / f"{algorithm}.gin"
    if not path.exists():
        raise MlgoError(
            f"problem {problem} has no {algorithm} configuration ({path} is missing); pass one with --gin_file"
        )
    return path


def saved_gin_text(text: str) -> str:
    """A configuration text stored by a run, with the import lines of modules that moved since brought up to date."""
    for old, new in _MOVED_MODULES.items():
        text = text.replace(old, new)
    return text


def load_gin(files: Sequence[Path], bindings: Sequence[str], text: str | None, configurables: Iterable[str]) -> str:
    """Reset gin, parse the configuration (files and bindings, or saved text), check the literal values bound to
    `configurables` against their parameters' types; the operative text to store."""
    gin.clear_config()
    try:
        if text is not None:
            gin.parse_config(text)
        else:
            for path in files:
                if not Path(path).is_file():
                    raise MlgoError(f"gin file {path} does not exist")
            # Not finalized: a module imported later (a verb's lazy imports) may still register configurables.
            gin.parse_config_files_and_bindings([str(p) for p in files], list(bindings), finalize_config=False)
    except (ValueError, NameError, KeyError, SyntaxError, TypeError, OSError) as error:
        raise MlgoError(f"bad gin configuration: {error}") from error
    check_bindings(configurables)
    return gin.config_str()
