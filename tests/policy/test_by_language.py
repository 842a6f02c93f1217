"""A policy per language, as written on command lines: members, their own commas, and what is refused."""

from __future__ import annotations

import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.policy.by_language import ANY_LANGUAGE, parse_language_policies


def test_members_keep_their_own_commas_and_equals():
    policies = parse_language_policies("c=default, c++=rule:callee_users=2,margin=120,*=RUN/policy")
    assert policies is not None
    assert dict(policies) == {"c": "default", "c++": "rule:callee_users=2,margin=120", ANY_LANGUAGE: "RUN/policy"}
    assert policies.for_language("c++") == "rule:callee_users=2,margin=120"
    assert policies.for_language("other") == "RUN/policy"


def test_a_single_policy_is_not_per_language():
    for text in ("default", "rule:callee_users=2,margin=120", "pretrained:inlining-oz", "RUN/c=1/policy"):
        assert parse_language_policies(text) is None


def test_a_language_without_a_member_is_named():
    policies = parse_language_policies("c=default")
    assert policies is not None and policies.for_language("c") == "default"
    with pytest.raises(MlgoError, match=r"no member for c\+\+ modules: add c\+\+=POLICY or \*=POLICY"):
        policies.for_language("c++")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("c=default,c=rule", "names c twice"),
        ("c=,c++=rule", "no policy for c: write c=POLICY"),
        ("c=c++=rule", "cannot itself be a policy per language"),
    ],
)
def test_malformed_lists_are_refused(text, message):
    with pytest.raises(MlgoError, match=message):
        parse_language_policies(text)


def test_map_keeps_languages_and_text():
    policies = parse_language_policies("c=default,c++=rule")
    assert policies is not None
    lengths = policies.map(lambda language, member: len(language) + len(member))
    assert dict(lengths) == {"c": 8, "c++": 7} and lengths.text == "c=default,c++=rule"
