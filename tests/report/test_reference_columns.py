"""The hand rule beside a learned policy in every table and plot, from real evaluations with the real clang.

A C++ library and a C one of the small sample are evaluated, linked, under
an untrained saved policy (seeded random weights: a learned policy as the
report sees one) and under the rule; every figure the report shows for the
rule beside the policy is checked against the rule's own evaluation JSON.
"""

from __future__ import annotations

import math

import pytest

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.report import formatting as fmt
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluated_policy import load_policy
from compiler_opt.report.evaluation_json import write_report
from compiler_opt.report.render import make_report
from tests.report.test_evaluate import _fast_policy
from tests.report.test_render import markdown_rows, parse_page, rows

INLINING = get_problem("inlining")
LIBRARIES = ("double-conversion", "xxhash")  # C++ and C, 9 modules, both link
RULE = "rule:callee_users=2,margin=45"


@pytest.fixture(scope="module")
def evaluated(small_sample, toolchain, tmp_path_factory):
    """(learned JSON, rule JSON, the report's files): both evaluated on the same modules, linked."""
    folder = tmp_path_factory.mktemp("reference")
    corpus = load_corpus(small_sample)
    modules = [spec for spec in corpus if spec.library in LIBRARIES]
    policy_dir = folder / "learned"
    policy_dir.mkdir()
    _fast_policy(problem_feature_spec(toolchain, INLINING, modules[0]), seed=5).save(policy_dir)
    baselines = BaselineCache(folder / "baselines", toolchain, INLINING)
    reports = {}
    with LocalPool(2) as pool:
        for name, policy in (
            ("learned", load_policy(INLINING, str(policy_dir))),
            ("rule", load_policy(INLINING, "rule")),
        ):
            reports[name] = evaluate(
                corpus,
                INLINING,
                policy,
                toolchain=toolchain,
                pool=pool,
                baselines=baselines,
                policy_label=str(policy_dir) if name == "learned" else policy,
                modules=modules,
                linked=True,
            )
            write_report(reports[name], folder / f"{name}.json")
    files = make_report([folder / "learned.json", folder / "rule.json"], folder / "report")
    return reports["learned"], reports["rule"], files


def _change(default: float, policy: float) -> str:
    return fmt.change(policy / default)


def _geomean(entries) -> str:
    logs = [math.log(e["policy"] / e["default"]) for e in entries]
    return fmt.change(math.exp(sum(logs) / len(logs)))


def test_the_rule_is_evaluated_with_its_thresholds_and_languages(evaluated):
    learned, rule, _ = evaluated
    assert rule["policy"] == RULE and rule["summary"]["failed"] == 0 and learned["summary"]["failed"] == 0
    assert {e["language"] for e in rule["modules"]} == {"c", "c++"}
    assert [e["name"] for e in rule["modules"]] == [e["name"] for e in learned["modules"]]


def test_every_table_shows_the_rule_beside_the_policy(evaluated):
    learned, rule, files = evaluated
    page = parse_page(files.html)
    label = learned["policy"]
    theirs = {e["name"]: e for e in rule["modules"]}
    linked = {e["library"]: e for e in learned["linked"]}
    rule_linked = {e["library"]: e for e in rule["linked"]}
    assert set(linked) == set(rule_linked) == set(LIBRARIES)

    modules = {r["Module"]: r for r in rows(page.tables[f"{label}: modules"])}
    for name, entry in theirs.items():
        assert modules[name][f"{RULE}: change"] == _change(entry["default"], entry["policy"])

    projects = {r["Project"]: r for r in rows(page.tables[f"{label}: per project"])}
    assert set(projects) == set(LIBRARIES)
    for library in LIBRARIES:
        mine = [e for e in learned["modules"] if e["name"].startswith(library + "/")]
        members = [theirs[e["name"]] for e in mine]
        row = projects[library]
        assert row["Total change"] == _change(sum(e["default"] for e in mine), sum(e["policy"] for e in mine))
        assert row["Linked change"] == fmt.change(linked[library]["ratio"])
        assert row[f"{RULE}: total change"] == _change(
            sum(e["default"] for e in members), sum(e["policy"] for e in members)
        )
        assert row[f"{RULE}: geomean change"] == _geomean(members)
        assert row[f"{RULE}: linked change"] == fmt.change(rule_linked[library]["ratio"])

    languages = {r["Language"]: r for r in rows(page.tables[f"{label}: per language"])}
    assert set(languages) == {"c", "c++"}
    for language, library in (("c", "xxhash"), ("c++", "double-conversion")):
        members = [e for e in rule["modules"] if e["language"] == language]
        assert {e["name"].split("/")[0] for e in members} == {library}
        row = languages[language]
        assert row["Modules"] == str(len(members))
        assert row[f"{RULE}: total change"] == _change(
            sum(e["default"] for e in members), sum(e["policy"] for e in members)
        )
        assert row["Linked change"] == fmt.change(linked[library]["ratio"])
        assert row[f"{RULE}: linked change"] == fmt.change(rule_linked[library]["ratio"])
    assert markdown_rows(files.markdown.read_text(), f"{label}: per language") == [
        {key: fmt.markdown_text(value) for key, value in row.items()}
        for row in rows(page.tables[f"{label}: per language"])
    ]

    table = {r["Library"]: r for r in rows(page.tables[f"{label}: linked libraries (.text)"])}
    for library in LIBRARIES:
        assert table[library]["Change"] == fmt.change(linked[library]["ratio"])
        assert table[library]["Per-object change"] == projects[library]["Total change"]
        assert table[library][f"{RULE}: change"] == fmt.change(rule_linked[library]["ratio"])
    both = sum(rule_linked[library]["policy"] for library in LIBRARIES) / sum(
        rule_linked[library]["default"] for library in LIBRARIES
    )
    assert table["all libraries"][f"{RULE}: change"] == fmt.change(both)

    # the rule's own section shows no reference beside it; nothing is compared with itself
    assert not any(RULE + ":" in heading for heading, _ in page.tables[f"{RULE}: per project"][0])


def test_the_first_line_and_every_plot_name_the_rule(evaluated):
    learned, _, files = evaluated
    first = files.markdown.read_text().split("\n")[2]
    assert first.startswith(f"**{fmt.markdown_text(learned['policy'])} ") and f"built-in policy {RULE} " in first
    page = files.html.read_text()
    names = {path.name for path in files.plots}
    assert {"distribution-1.png", "projects-1.png", "languages-1.png", "languages-2.png"} <= names
    for plot in ("distribution", "projects", "languages"):
        caption = [part for part in page.split("<figcaption")[1:] if f"({plot}-1.png)" in part]
        assert caption and f"beside {RULE}" in caption[0], plot
        assert not any(f"({plot}-2.png)" in part and "beside" in part for part in page.split("<figcaption")[1:])
