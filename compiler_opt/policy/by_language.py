"""A policy per source language: every compile is answered by the member for its module's language.

The inliner's features carry no language, and the call sites where looser
inlining pays in C++ (`linkonce_odr` callees) look like those where it costs
in C (static functions), so one network cannot learn both. Build systems
already keep C and C++ flags apart (CFLAGS, CXXFLAGS), so a policy per
language deploys naturally: `mlgo export` exports each member on its own.

Written wherever a policy is named (`mlgo eval --policy`, `mlgo cc`,
MLGO_POLICY, `mlgo export`) as `LANGUAGE=POLICY,LANGUAGE=POLICY,...`, e.g.

    c=RUN_C/policy,c++=RUN_CXX/policy
    c=default,c++=pretrained:inlining-oz-cxx,*=default

LANGUAGE is `c`, `c++`, `other` (`compiler_opt.llvm.source_language`, as
`-main-file-name` tells) or `*` for every language not named; POLICY is
anything a single policy may be (a built-in name, with its parameters, a
saved policy folder, `pretrained:NAME`). A module whose language has no
member and no `*` is refused with a message naming the language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.source_language import LANGUAGES

__all__ = ["ANY_LANGUAGE", "LanguagePolicies", "parse_language_policies"]

ANY_LANGUAGE = "*"
_KEYS = (*LANGUAGES, ANY_LANGUAGE)

Member = TypeVar("Member")
Other = TypeVar("Other")


@dataclass(frozen=True)
class LanguagePolicies(Generic[Member]):
    """The member policy of each language (`ANY_LANGUAGE` for those not named), as given (`text`)."""

    members: Mapping[str, Member]
    text: str

    def for_language(self, language: str) -> Member:
        """The member answering modules of `language`; refused, naming it, when none does."""
        member = self.members.get(language, self.members.get(ANY_LANGUAGE))
        if member is None:
            raise MlgoError(
                f"the policy {self.text!r} has no member for {language} modules: add {language}=POLICY "
                f"or {ANY_LANGUAGE}=POLICY"
            )
        return member

    def map(self, convert: Callable[[str, Member], Other]) -> LanguagePolicies[Other]:
        """The same languages with each member converted (`convert(language, member)`)."""
        return LanguagePolicies({key: convert(key, member) for key, member in self.members.items()}, self.text)

    def __iter__(self) -> Iterator[tuple[str, Member]]:
        return iter(self.members.items())


def parse_language_policies(text: str) -> LanguagePolicies[str] | None:
    """The languages and member names of `text`, or None when it is not of the form `LANGUAGE=POLICY,...`.

    A comma starts a new member only before `LANGUAGE=`, so a member's own
    commas stay its own (`c++=rule:callee_users=2,margin=120`).
    """
    if not _starts_member(text):
        return None
    members: dict[str, str] = {}
    key, parts = "", list[str]()
    for piece in text.split(","):
        if _starts_member(piece):
            if key:
                _add(members, key, ",".join(parts), text)
            key, value = piece.split("=", 1)
            parts = [value]
        else:
            parts.append(piece)
    _add(members, key, ",".join(parts), text)
    return LanguagePolicies(members, text)


def _starts_member(piece: str) -> bool:
    key, equals, _ = piece.partition("=")
    return bool(equals) and key.strip() in _KEYS


def _add(members: dict[str, str], key: str, value: str, text: str) -> None:
    key, value = key.strip(), value.strip()
    if key in members:
        raise MlgoError(f"the policy {text!r} names {key} twice")
    if not value:
        raise MlgoError(f"the policy {text!r} gives no policy for {key}: write {key}=POLICY")
    if parse_language_policies(value) is not None:
        raise MlgoError(f"the policy {text!r}: a member cannot itself be a policy per language")
    members[key] = value
