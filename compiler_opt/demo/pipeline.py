"""The demo's stages: from nothing to a trained, selected, evaluated, exported and reported inlining policy.

Stages, each in its own folder under the output, each recorded in
`stages.json` when it finishes, so a rerun skips what is done (and a killed
run resumes the stage it was in: training resumes from its last complete
iteration):

1. corpus:    the sample corpus of real code (built or reused), split into
              training and validation libraries (`Corpus.split`);
2. warmstart: behavioral cloning of the hand rule (`bc-rule`, the default),
              imitation (rounds of exploring around the policy, the
              default and the hand rule as first candidates, cloning the
              best found), behavioral cloning of clang's `-Oz` (`bc`), or
              none: the packaged rule's clone (`pretrained`);
3. train:     ES (or imitation, PPO, or nothing) from the warm start;
4. select:    every policy trained compiled greedily on a seeded sample of
              training modules; the smallest in total becomes `policy/`,
              provided it is smaller than `-Oz` there: else no policy ships
              and the compiler's own heuristic stays (said in the headline;
              no validation module is used to choose);
5. eval:      the chosen policy (in a fallback, the best candidate, for the
              record) and the default on the validation split (never seen in
              training) -> `eval/eval.json`;
6. reference: the problem's reference policies (`Problem.reference_policies`:
              the inliner's hand rule), the built-ins a learned policy must
              beat, on the same modules -> `eval/<name>.json`;
7. export:    SavedModel, TFLite and XLA AOT, verified to decide alike
              (skipped when no policy ships);
8. report:    `report/report.html` (+ markdown, CSV, plots), opening with the
              verdict (the policy against each reference) and showing each
              reference beside the policy in every table and plot.

With `languages`, training and selection use those languages' modules only,
and what ships is a policy per language (`compiler_opt.policy.by_language`):
the trained policy for them, the compiler's own heuristic (`default`) for
the rest; it is evaluated as such and exported per language.

The training budget: the warm start gets `WARMSTART_SHARE` of it, the
training stage what is left, but never less than `TRAIN_FLOOR_SHARE`. A
training run checks its budget before each iteration only, so each stage's
first iteration always runs whole (imitation's first round compiles and
clones a fixed amount of work; it is not cut short by a busy machine), and a
stage whose later iterations do not fit stops with what it has. Baselines,
selection, evaluation and export come on top of the budget, and so does the
references' evaluation: per reference, one compile per validation module
(the default's scores come from the baseline cache), plus, where the corpus
records libraries, a plain compile per module to link the default's
libraries (its `seconds` in `stages.json` say what it took).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.demo.options import (
    FIRST_ROUND_MODULES,
    LANGUAGE_REFERENCES,
    PRETRAINED,
    PRETRAINED_WARMSTART,
    PROBLEM,
    SELECTION_MODULES,
    TRAIN_FLOOR_SHARE,
    WARMSTART_ALGORITHM,
    WARMSTART_SHARE,
    WARMSTART_TEACHER,
    DemoOptions,
    DemoState,
    SampleCorpusBuilder,
)
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.saved import load_fast_policy
from compiler_opt.pool.backends import make_pool
from compiler_opt.problems import get_problem


def run_demo(
    options: DemoOptions, build_sample_corpus: SampleCorpusBuilder, say: Callable[[str], None] = print
) -> dict:
    """Run (or resume) every stage; returns the stage figures, the headline among them.

    `build_sample_corpus` makes the corpus when `options.corpus` names none.
    """
    from compiler_opt.export.exporter import export_per_language, export_policy
    from compiler_opt.policy.by_language import parse_language_policies
    from compiler_opt.policy.pretrained import policy_folder
    from compiler_opt.report.evaluate import evaluate
    from compiler_opt.report.evaluated_policy import EvaluatedPolicy, load_policy
    from compiler_opt.report.evaluation_json import format_summary, write_report
    from compiler_opt.report.inputs import load_evaluation
    from compiler_opt.report.references import verdicts
    from compiler_opt.report.render import make_report
    from compiler_opt.train import TrainOptions, train

    output = options.output
    output.mkdir(parents=True, exist_ok=True)
    state = DemoState(output, options)
    toolchain = find_toolchain(options.clang)
    problem = get_problem(PROBLEM)
    baselines = BaselineCache(BaselineCache.shared_folder(), toolchain, problem)
    started = time.monotonic()

    def stage(name: str, work: Callable[[], dict]) -> dict:
        figures = state.done(name)
        if figures is not None:
            say(f"[{name}] done earlier: {_brief(figures)}")
            return figures
        say(f"[{name}] ...")
        begun = time.monotonic()
        figures = {**work(), "seconds": round(time.monotonic() - begun, 1)}
        state.finish(name, figures)
        say(f"[{name}] {_brief(figures)}")
        return figures

    def corpus_stage() -> dict:
        if options.corpus is not None:
            folder = options.corpus
        else:
            folder = build_sample_corpus(toolchain, options.corpus_size)
        corpus = load_corpus(folder)
        training, validation = corpus.split(options.validation_fraction)
        return {"corpus": str(folder), "modules": len(corpus), "training": len(training), "validation": len(validation)}

    corpus_figures = stage("corpus", corpus_stage)
    corpus_dir = Path(corpus_figures["corpus"])
    budget = options.budget_minutes * 60
    with make_pool("local", workers=options.workers, clang=str(toolchain.clang)) as pool:

        def training_stage(algorithm: str, run_dir: Path, seconds: float, warmstart: Path | None) -> dict:
            summary = train(
                TrainOptions(
                    problem=PROBLEM,
                    algorithm=algorithm,
                    corpus=corpus_dir,
                    output=run_dir,
                    clang=str(toolchain.clang),
                    warmstart=warmstart,
                    seed=options.seed,
                    validation_fraction=options.validation_fraction,
                    resume=(run_dir / "config.json").exists(),
                    max_seconds=seconds,
                    modules_per_iteration=options.modules_per_iteration,
                    gin_bindings=_bindings(algorithm, options),
                ),
                pool,
            )
            if summary.iterations == 0:
                raise MlgoError(f"{algorithm}: no iteration fitted in {seconds:.0f} s; give more --budget-minutes")
            return {
                "algorithm": algorithm,
                "run": str(run_dir),
                "budget_seconds": round(seconds, 1),
                "iterations": summary.iterations,
                "stopped": summary.stopped,
                "last": summary.last,
                "peak_rss_bytes": summary.peak_rss_bytes,
            }

        trained: list[Path] = []  # the run folders training wrote (the report draws their curves)
        if options.warmstart == PRETRAINED:
            warm_dir, warm_seconds = policy_folder(PRETRAINED_WARMSTART).parent, 0.0
        else:
            warm_dir = output / options.warmstart
            algorithm = WARMSTART_ALGORITHM[options.warmstart]
            warm_seconds = stage(
                "warmstart", lambda: training_stage(algorithm, warm_dir, budget * WARMSTART_SHARE, None)
            )["seconds"]
            trained.append(warm_dir)
        runs = {"warmstart": warm_dir}
        if options.algorithm != "none":
            seconds = max(budget - warm_seconds, budget * TRAIN_FLOOR_SHARE)
            train_dir = output / options.algorithm
            stage("train", lambda: training_stage(options.algorithm, train_dir, seconds, warm_dir / "policy"))
            runs["train"] = train_dir
            trained.append(train_dir)
        policy_dir = output / "policy"

        def select_stage() -> dict:
            corpus = load_corpus(corpus_dir)
            training = corpus.split(options.validation_fraction)[0]
            if options.languages:
                training = training.subset([spec for spec in training if spec.language in options.languages])
            sample = list(training.sample(min(SELECTION_MODULES, len(training)), options.seed))
            ratios: dict[str, float] = {}
            for name, run_dir in runs.items():
                report = evaluate(
                    corpus,
                    problem,
                    load_fast_policy(run_dir / "policy"),
                    toolchain=toolchain,
                    pool=pool,
                    baselines=baselines,
                    policy_label=str(run_dir / "policy"),
                    modules=sample,
                    seed=options.seed,
                )
                ratios[name] = report["summary"]["total_ratio"]
            best = min(reversed(ratios), key=ratios.__getitem__)  # the later stage's policy on a tie
            shipped = ratios[best] < 1.0
            shutil.rmtree(policy_dir, ignore_errors=True)
            if shipped:
                _replace_tree(runs[best] / "policy", policy_dir)
            return {
                "chosen": best if shipped else None,
                "best": best,
                "best_policy": str(runs[best] / "policy"),
                "selection_modules": len(sample),
                **{f"{name}_total_ratio": ratio for name, ratio in ratios.items()},
            }

        selected = stage("select", select_stage)
        shipped = selected["chosen"] is not None
        evaluated_dir = policy_dir if shipped else Path(selected["best_policy"])

        def evaluate_on_validation(policy: EvaluatedPolicy, label: str, path: Path) -> dict:
            """`policy` and the default on the validation split (linked where the corpus records libraries)."""
            corpus = load_corpus(corpus_dir)
            validation = sorted(corpus.split(options.validation_fraction)[1], key=lambda spec: spec.name)
            if options.max_eval_modules is not None:
                validation = validation[: options.max_eval_modules]
            report = evaluate(
                corpus,
                problem,
                policy,
                toolchain=toolchain,
                pool=pool,
                baselines=baselines,
                policy_label=label,
                modules=validation,
                linked=bool(corpus.libraries),
                seed=options.seed,
            )
            write_report(report, path)
            say(format_summary(report))
            return report

        def eval_stage() -> dict:
            path = output / "eval" / "eval.json"
            served = _served(evaluated_dir, options.languages)
            report = evaluate_on_validation(load_policy(problem, served), served, path)
            return {"eval": str(path), **report["summary"]}

        def reference_stage() -> dict:
            figures: dict = {"evaluations": []}
            for reference in problem.reference_policies:
                name = problem.policy(reference).name  # with every parameter
                path = output / "eval" / f"{reference}.json"
                summary = evaluate_on_validation(name, name, path)["summary"]
                figures["evaluations"].append(str(path))
                figures.update(
                    {f"{reference}_total_ratio": summary["total_ratio"], f"{reference}_failed": summary["failed"]}
                )
            return figures

        eval_figures = stage("eval", eval_stage)
        reference_figures = stage("reference", reference_stage)

    def export_stage() -> dict:
        if not shipped:
            return {"skipped": "no policy ships: none was smaller than clang -Oz on the selection sample"}
        settings: dict[str, Any] = {
            "aot": options.aot,
            "tflite": True,
            "verify": options.verify,
            "corpus": load_corpus(corpus_dir),
            "clang": str(toolchain.clang),
            "problem": PROBLEM,
            "seed": options.seed,
            "log": say,
        }
        folder = output / "export"
        if not options.languages:
            return {"export": str(folder), **_exported(export_policy(policy_dir, folder, **settings))}
        per_language = parse_language_policies(_served(policy_dir, options.languages))
        assert per_language is not None  # `_served` writes a policy per language for languages
        results = export_per_language(per_language, folder, **settings)
        return {
            "export": str(folder),
            "languages": {language: _exported(result) for language, result in results.items() if result is not None},
        }

    stage("export", export_stage)

    def report_stage() -> dict:
        evaluations = [eval_figures["eval"], *reference_figures["evaluations"]]
        files = make_report(evaluations, output / "report", run_paths=trained)
        lines = [verdict.line() for verdict in verdicts([load_evaluation(path) for path in evaluations])]
        return {"report": str(files.html), "verdicts": lines}

    report_figures = stage("report", report_stage)
    headline = _headline(eval_figures, selected)
    state.data["headline"] = headline
    state.finish("report", report_figures)
    say(
        f"\npolicy:  {_served(policy_dir, options.languages) if shipped else 'none (the compiler keeps its own heuristic)'}\n"
        f"eval:    {eval_figures['eval']}\nexport:  {output / 'export' if shipped else 'none'}\n"
        f"report:  {output / 'report' / 'report.html'}\n(this call: {time.monotonic() - started:.0f} s)\n\n"
        + "".join(f"{line}\n" for line in report_figures.get("verdicts", ()))
        + headline
    )
    return state.data


def _bindings(algorithm: str, options: DemoOptions) -> tuple[str, ...]:
    """The gin bindings of a demo's training stage: its reward size and languages, imitation's references or
    first-round sample, and whose decisions BC clones."""
    bindings = [f"train.trainer_config.reward_size = {options.reward_size!r}"]
    if options.languages:
        bindings.append(f"train.trainer_config.languages = {tuple(options.languages)!r}")
    if algorithm == "imitation" and options.languages:
        bindings.append(f"imitation.imitation_config.references = {LANGUAGE_REFERENCES!r}")
    elif algorithm == "imitation":
        bindings.append(f"imitation.imitation_config.first_round_modules = {FIRST_ROUND_MODULES}")
    teacher = WARMSTART_TEACHER.get(options.warmstart)
    if algorithm == "bc" and teacher is not None:
        bindings.append(f"train.trainer_config.label_policy = {teacher!r}")
    return tuple(bindings)


def _served(policy: Path, languages: tuple[str, ...]) -> str:
    """What ships: `policy`, or for `languages` a policy per language with the compiler's heuristic elsewhere."""
    if not languages:
        return str(policy)
    return ",".join([*(f"{language}={policy}" for language in languages), "*=default"])


def _exported(result) -> dict:
    """An export's figures in `stages.json`: its forms and what verification found."""
    return {"forms": result.forms, "verify": result.verify.to_json() if result.verify is not None else None}


def _headline(evaluation: dict, selected: dict) -> str:
    """The demo's last line: the shipped policy on validation against -Oz, or why none ships."""
    modules = evaluation["modules"] - evaluation["failed"]
    on_validation = (
        f"{modules} modules never seen in training: {_percent_smaller(evaluation['total_ratio'])} than clang -Oz "
        f"(total .text; geomean ratio {evaluation['geomean_ratio']:.4f})"
    )
    if selected["chosen"] is not None:
        return on_validation
    best = selected["best"]
    return (
        f"no policy ships: the best trained ({best}) was {_percent_smaller(selected[f'{best}_total_ratio'])} than "
        f"clang -Oz on {selected['selection_modules']} training modules, so the compiler keeps its own heuristic "
        f"(that policy on {on_validation})"
    )


def _percent_smaller(ratio: float) -> str:
    change = (1 - ratio) * 100
    return f"{change:.2f}% smaller" if change >= 0 else f"{-change:.2f}% larger"


def _brief(figures: dict) -> str:
    return ", ".join(
        f"{key} {value}"
        for key, value in figures.items()
        if isinstance(value, (int, float, str)) and key not in ("last",)
    )


def _replace_tree(source: Path, destination: Path) -> None:
    staging = destination.with_name(destination.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(destination, ignore_errors=True)
    staging.replace(destination)
