"""Check parsed gin bindings against the annotations of the configurables they bind, before anything runs.

Gin binds whatever the text says: `train.trainer_config.iterations = "two"` parses, and fails only when the
configurable is called, as a traceback. `check_bindings` refuses such a binding with a message that names it:

    gin binding train.trainer_config.iterations = 'two': expected int

Only literal values (numbers, strings, booleans, None, lists, tuples) are checked; references (`@fn`, `%MACRO`)
and parameters whose annotation is not one of the simple forms below are left to the configurable.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

import gin

from compiler_opt.errors import MlgoError

_LITERALS = (bool, int, float, str, type(None))
_SEQUENCES = (collections.abc.Sequence, tuple, list)


def check_bindings(selectors: Iterable[str]) -> None:
    """Refuse the first binding of a configurable in `selectors` whose literal value does not fit its annotation."""
    for selector in selectors:
        hints = _parameter_hints(gin.get_configurable(selector))
        for name, value in gin.get_bindings(selector, resolve_references=False).items():
            hint = hints.get(name)
            if hint is not None and _literal(value) and not _fits(value, hint):
                raise MlgoError(f"gin binding {selector}.{name} = {value!r}: expected {_describe(hint)}")


def _parameter_hints(configurable: Callable) -> dict[str, Any]:
    """The parameters' annotations, evaluated where they can be (a forward reference that cannot is left out)."""
    function = inspect.unwrap(configurable)
    hints = {}
    for name, annotation in getattr(function, "__annotations__", {}).items():
        if name == "return":
            continue
        try:
            hints[name] = eval(annotation, function.__globals__) if isinstance(annotation, str) else annotation
        except Exception:  # pylint: disable=broad-except  # e.g. a name only imported for type checking
            continue
    return hints


def _literal(value: Any) -> bool:
    """Whether `value` is plain data as gin's parser makes it from a literal (no reference or macro inside)."""
    if isinstance(value, (list, tuple)):
        return all(_literal(item) for item in value)
    return isinstance(value, _LITERALS)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a literal `value` is of the type `hint` (unknown forms of hint accept anything)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and Ellipsis not in args:  # tuple[int, str]: one type per place
            return len(value) == len(args) and all(_fits(item, arg) for item, arg in zip(value, args))
        return not args or all(_fits(item, args[0]) for item in value)
    if hint in (None, type(None)):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True


def _describe(hint: Any) -> str:
    """`hint` as it was written: `int`, `float | None`, `Sequence[int]`."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "").replace("collections.abc.", "")
