"""What a problem plug-in provides: the advisor it drives, its built-in policies, its measurement.

Generic code (tracing, collection, learners, export, reports) only talks to
this interface and never tests a problem's name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.advisors import Advisor
from compiler_opt.problems.measurements import Measurement

if TYPE_CHECKING:
    from compiler_opt.llvm.log_format import LogHeader, Observation
    from compiler_opt.llvm.toolchain import Toolchain

Decide = Callable[["Observation"], object]


@dataclass(frozen=True)
class PolicyContext:
    """What a built-in policy may look at when it is made for one compile."""

    toolchain: Toolchain
    header: LogHeader
    seed: int = 0
    # The built-in policy's parameters (its defaults, or the values its name set).
    parameters: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltinPolicy:
    """A hand-written policy: `make` turns a compile's context into a decision function.

    `replays_default` policies answer with the compiler's own decision, sent
    along with each observation (`include_default`); `make is None` means the
    compiler runs without the advisor at all (its heuristic decides, nothing is logged).
    `parameters` are the numbers a policy reads from its context (name -> built-in default);
    `configured`, if any, returns their defaults as configured (a gin configurable: the
    driver's configuration, asked each time the policy is named); a policy name
    `NAME:KEY=VALUE,...` sets them over those (`Problem.policy`).
    """

    name: str
    description: str
    make: Callable[[PolicyContext], Decide] | None
    include_default: bool = False
    parameters: Mapping[str, float] = field(default_factory=dict)
    configured: Callable[[], Mapping[str, float]] | None = None

    def defaults(self) -> dict[str, float]:
        """The parameters' defaults: the built-in ones, overridden by those `configured` (e.g. by gin)."""
        configured = self.configured() if self.configured is not None else {}
        values = {}
        for key, default in self.parameters.items():
            given = configured.get(key, default)
            number = given if isinstance(given, (int, float)) and not isinstance(given, bool) else math.nan
            if not math.isfinite(number):
                raise MlgoError(
                    f"built-in policy {self.name}: its configured {key} must be a finite number, got {given!r}"
                )
            values[key] = float(number)
        return values

    def with_parameters(self, given: str | None = None) -> BuiltinPolicy:
        """This policy with its parameters' `defaults()`, and those `given` as `KEY=VALUE,...` set over them.

        The name then carries every value (`NAME:KEY=VALUE,...`), so it means the same policy in any process
        (workers read no gin) and records what ran. A policy without parameters, given none, is itself.
        """
        if given is None and not self.parameters:
            return self
        defaults = self.defaults()
        values = dict(defaults)
        for item in () if given is None else given.split(","):
            key, equals, text = item.partition("=")
            key = key.strip()
            if key not in self.parameters or not equals:
                known = ", ".join(f"{k}={v:g}" for k, v in defaults.items()) or "none"
                what = repr(key) if equals else f"{item.strip()!r} (give KEY=VALUE)"
                raise MlgoError(f"built-in policy {self.name}: cannot set {what}; its parameters (defaults): {known}")
            try:
                value = float(text)
            except ValueError:
                raise MlgoError(f"built-in policy {self.name}: {key} must be a number, got {text.strip()!r}") from None
            if not math.isfinite(value):
                raise MlgoError(f"built-in policy {self.name}: {key} must be finite, got {text.strip()!r}")
            values[key] = value
        name = f"{self.name}:" + ",".join(f"{k}={v:g}" for k, v in values.items())
        return dataclasses.replace(self, name=name, parameters=values)


@dataclass(frozen=True)
class EmbeddedModel:
    """How LLVM's release mode compiles a policy of this problem into the compiler (XLA AOT).

    `cpp_class` is the class LLVM's code instantiates; `name` the stem LLVM's
    CMake gives the generated `<name>.h`/`<name>.o` (and the suffix of its
    `LLVM_OVERRIDE_MODEL_{HEADER,OBJECT}_<NAME>` options); `model_path_option`
    the CMake option naming the SavedModel; `decision` the output LLVM fetches
    (`fetch_<decision>`), which the policy's advice must be named.
    """

    cpp_class: str
    name: str
    model_path_option: str
    decision: str


@dataclass(frozen=True)
class Problem:
    """A decision the compiler delegates, and how a compile under it is judged."""

    name: str
    description: str
    advisor: Advisor
    policies: Mapping[str, BuiltinPolicy]
    measurement: Measurement
    # The name the compiler gives the advice tensor (what a saved policy of this problem answers).
    advice: str = ""
    # Header features a policy never reads: the slot(s) that carry the compiler's own decision.
    excluded_features: tuple[str, ...] = ()
    # How many values the advice takes when it is categorical (the inliner's 0/1), else None.
    num_actions: int | None = None
    # The built-in policy whose compiles give the observations a vocabulary is computed from.
    vocab_policy: str = "default"
    # Which header feature holds the default decision when it is included (probed per compiler), if any.
    default_decision_feature: Callable[[Toolchain], str | None] | None = None
    # How LLVM embeds this problem's policy ahead of time; None where LLVM has no embedded model for it.
    embedded_model: EmbeddedModel | None = None
    # Built-in policies a learned one must beat, not just the default (the inliner's hand rule): the demo
    # evaluates them beside its policy on the validation modules.
    reference_policies: tuple[str, ...] = ()

    def default_replay(self) -> BuiltinPolicy | None:
        """The built-in policy that answers with the compiler's own decision, if the problem has one."""
        return next((p for p in self.policies.values() if p.include_default and p.make is not None), None)

    def decision_figures(self, counts: Mapping[int, int]) -> dict[str, float]:
        """The problem's own figures of a set of decisions (`counts`: how many times each action was taken), for
        the training log; none by default."""
        return {}

    def policy(self, name: str) -> BuiltinPolicy:
        """The built-in policy `name`; `NAME:KEY=VALUE,...` sets its parameters (see `BuiltinPolicy`), and the
        name of one with parameters carries them all (`rule` -> `rule:callee_users=2,margin=45`)."""
        base, colon, given = name.partition(":")
        try:
            policy = self.policies[base]
        except KeyError:
            raise MlgoError(
                f"problem {self.name} has no built-in policy {base!r}; choose one of: {', '.join(self.policies)}"
            ) from None
        return policy.with_parameters(given if colon else None)

    def is_builtin(self, name: str) -> bool:
        """Whether `name` names one of the problem's built-in policies (with or without parameters)."""
        return name.partition(":")[0] in self.policies
