"""The problem registry: one plug-in module per decision the compiler delegates.

`policy_match` tells which problem a saved policy answers (from its advice's name).
"""

from __future__ import annotations

import importlib

from compiler_opt.errors import MlgoError
from compiler_opt.problems.base import Problem

_MODULES = {
    "inlining": "compiler_opt.problems.inlining",
    "regalloc-eviction": "compiler_opt.problems.regalloc_eviction",
    "regalloc-priority": "compiler_opt.problems.regalloc_priority",
}


def problem_names() -> list[str]:
    return list(_MODULES)


def get_problem(name: str) -> Problem:
    """The problem called `name`; an `MlgoError` listing the choices otherwise."""
    if name not in _MODULES:
        raise MlgoError(f"unknown problem {name!r}; choose one of: {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[name]).PROBLEM
