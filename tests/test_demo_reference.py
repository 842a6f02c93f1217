"""The demo's reference stage: the problem's reference policies (the inliner's hand rule) evaluated beside its
policy on the validation split, and the report that opens with the verdict and shows the rule in its tables.

The stages before it are recorded as done (the demo skips recorded stages), with a real evaluation of an
untrained saved policy standing for the trained one, so this runs only the reference and report stages, with
the real clang on the small sample corpus; `test_demo.py` runs every stage (slow).
"""

from __future__ import annotations

import json

import pytest

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.demo.options import STATE_FILE, DemoOptions
from compiler_opt.demo.pipeline import run_demo
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluated_policy import load_policy
from compiler_opt.report.evaluation_json import write_report
from tests.report.test_evaluate import _fast_policy
from tests.report.test_render import parse_page, rows
from tests.rl.conftest import labels, rl_modules, rl_spec, rl_vocab, sample_corpus, small_network  # noqa: F401

INLINING = get_problem("inlining")


def _no_corpus_build(*_):
    raise AssertionError("the corpus stage is recorded as done")


@pytest.fixture
def trained_demo(small_sample, toolchain, tmp_path):
    """A demo folder whose stages up to `eval` (and `export`) are done, its policy evaluated for real."""
    options = DemoOptions(output=tmp_path / "demo", corpus=small_sample, workers=2, budget_minutes=3)
    output = options.output
    corpus = load_corpus(small_sample)
    validation = sorted(corpus.split(options.validation_fraction)[1], key=lambda spec: spec.name)
    policy_dir = output / "policy"
    policy_dir.mkdir(parents=True)
    _fast_policy(problem_feature_spec(toolchain, INLINING, validation[0]), seed=7).save(policy_dir)
    with LocalPool(2) as pool:
        report = evaluate(
            corpus,
            INLINING,
            load_policy(INLINING, str(policy_dir)),
            toolchain=toolchain,
            pool=pool,
            baselines=BaselineCache(BaselineCache.shared_folder(), toolchain, INLINING),
            policy_label=str(policy_dir),
            modules=validation,
            linked=True,
        )
    write_report(report, output / "eval" / "eval.json")
    for run in (options.warmstart, "es"):
        (output / run).mkdir()
        (output / run / "log.jsonl").write_text(json.dumps({"iteration": 0, "total_ratio": 1.0}) + "\n")
    stages = {
        "corpus": {"corpus": str(small_sample), "validation": len(validation)},
        "warmstart": {"iterations": 1, "seconds": 1.0},
        "train": {"iterations": 1},
        "select": {"chosen": "train", "best": "train", "best_policy": str(output / "es" / "policy")},
        "eval": {"eval": str(output / "eval" / "eval.json"), **report["summary"]},
        "export": {"export": str(output / "export")},
    }
    (output / STATE_FILE).write_text(json.dumps({"settings": options.settings(), "stages": stages}))
    return options, report


@pytest.mark.slow
def test_the_demo_evaluates_the_rule_beside_its_policy_and_reports_the_verdict(trained_demo):
    options, learned = trained_demo
    output = options.output
    said: list[str] = []
    state = run_demo(options, _no_corpus_build, said.append)

    path = output / "eval" / "rule.json"
    rule = json.loads(path.read_text())
    assert rule["policy"] == "rule:callee_users=2,margin=45" and rule["summary"]["failed"] == 0
    assert [m["name"] for m in rule["modules"]] == [m["name"] for m in learned["modules"]]
    assert {e["library"] for e in rule["linked"]} == {e["library"] for e in learned["linked"]}
    reference = state["stages"]["reference"]
    assert reference["evaluations"] == [str(path)]
    assert reference["rule_total_ratio"] == rule["summary"]["total_ratio"]

    ratio = learned["summary"]["total_ratio"]
    outcome = "beats" if ratio < rule["summary"]["total_ratio"] else "does NOT beat"
    verdict = (
        f"{output / 'policy'} {outcome} the built-in policy {rule['policy']} on the {len(rule['modules'])} modules "
        f"both evaluated: total {ratio:.4f} vs {rule['summary']['total_ratio']:.4f} of the default"
    )
    assert (output / "report" / "report.md").read_text().startswith(f"## mlgo report\n\n**{verdict}**\n\n")
    lines = said[-1].splitlines()
    assert lines[-2:] == [verdict, state["headline"]]
    page = parse_page(output / "report" / "report.html")
    projects = rows(page.tables[f"{output / 'policy'}: per project"])
    assert {row["Project"] for row in projects} == {e["library"] for e in rule["linked"]}
    assert all(row[f"{rule['policy']}: linked change"] for row in projects)
    headings = [heading for heading, _ in page.tables[f"{output / 'policy'}: per language"][0]]
    assert headings[5:] == [
        "Total change",
        "Geomean change",
        "Linked change",
        *(f"{rule['policy']}: {what} change" for what in ("total", "geomean", "linked")),
    ]

    said.clear()
    run_demo(options, _no_corpus_build, said.append)
    assert "[reference] done earlier" in "\n".join(said) and said[-1].splitlines()[-2] == verdict


@pytest.mark.slow
def test_no_policy_ships_when_none_beats_the_default_on_the_selection_sample(
    small_sample,
    rl_spec,  # noqa: F811
    rl_vocab,  # noqa: F811
    small_network,  # noqa: F811
    tmp_path,
):
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights, set_actor_weights
    from compiler_opt.policy.saved import save_policy

    options = DemoOptions(output=tmp_path / "demo", corpus=small_sample, workers=2, budget_minutes=3, aot=False)
    output = options.output
    validation = load_corpus(small_sample).split(options.validation_fraction)[1]
    tf.random.set_seed(0)
    actor = actor_network(rl_spec, rl_vocab, small_network)
    weights = actor_weights(actor)
    weights[-1][1][1] += 3.0  # inlines nearly every call site: far larger than -Oz
    set_actor_weights(actor, weights)
    for run in (options.warmstart, "es"):
        save_policy(output / run / "policy", actor, rl_spec, rl_vocab, small_network)
        (output / run / "log.jsonl").write_text(json.dumps({"iteration": 1, "total_ratio": 1.5}) + "\n")
    stages = {
        "corpus": {"corpus": str(small_sample), "validation": len(validation)},
        "warmstart": {"iterations": 1, "seconds": 1.0},
        "train": {"iterations": 1},
    }
    (output / STATE_FILE).write_text(json.dumps({"settings": options.settings(), "stages": stages}))
    said: list[str] = []
    state = run_demo(options, _no_corpus_build, said.append)

    selected = state["stages"]["select"]
    assert selected["chosen"] is None and selected["best"] in ("warmstart", "train")
    assert min(selected["warmstart_total_ratio"], selected["train_total_ratio"]) >= 1.0
    assert not (output / "policy").exists() and not (output / "export").exists()
    assert "skipped" in state["stages"]["export"]
    evaluation = json.loads((output / "eval" / "eval.json").read_text())
    assert evaluation["policy"] == selected["best_policy"]  # the best candidate, evaluated for the record
    headline = said[-1].splitlines()[-1]
    assert headline == state["headline"] and headline.startswith(
        f"no policy ships: the best trained ({selected['best']})"
    )
    assert "policy:  none (the compiler keeps its own heuristic)" in said[-1]


def test_imitation_trains_from_a_cloned_warm_start_but_not_from_itself(tmp_path):
    from compiler_opt.demo.pipeline import _bindings
    from compiler_opt.errors import MlgoError

    options = DemoOptions(output=tmp_path, warmstart="bc-rule", algorithm="imitation", reward_size="object")
    bindings = _bindings("imitation", options)
    assert "train.trainer_config.reward_size = 'object'" in bindings
    assert any(binding.startswith("imitation.imitation_config.first_round_modules = ") for binding in bindings)
    assert _bindings("bc", options)[-1] == "train.trainer_config.label_policy = 'rule'"
    with pytest.raises(MlgoError, match="same algorithm"):
        DemoOptions(output=tmp_path, warmstart="imitation", algorithm="imitation")
