"""The main job: from nothing to a trained, evaluated, exported and reported inlining policy.

Stages, each in its own folder under the output, each recorded in
`stages.json` when it finishes, so a rerun skips what is done (and a killed
run resumes the stage it was in: training resumes from its last complete
iteration):

1. corpus:   the sample corpus of real code (built or reused), split into
             training and validation modules by name;
2. bc:       behavioral cloning of clang's own `-Oz` decisions (the warm start);
3. train:    ES (or PPO, `algorithm`) from the warm start on the training
             split, within the budget;
4. select:   the BC and the trained policy compiled greedily on a seeded
             sample of training modules; the one with the smaller total
             becomes `policy/` (so a training run that made things worse
             ships no worse than its warm start; no validation module is
             used to choose);
5. eval:     the chosen policy and the default heuristic on the validation
             split (never seen in training) -> `eval/eval.json`;
6. reference: the problem's reference policies (`Problem.reference_policies`:
             the inliner's hand rule), the built-ins a learned policy must
             beat, on the same modules -> `eval/<name>.json`;
7. export:   SavedModel, TFLite and XLA AOT, verified to decide alike;
8. report:   `report/report.html` (+ markdown, CSV, plots), opening with the
             verdict (the policy against each reference) and showing each
             reference beside the policy in every table and plot.

The budget is split between BC (a sixth) and the trained algorithm (the
rest); baselines, selection, evaluation and export come on top of it, and
so does the references' evaluation: per reference, one compile per
validation module (the default's scores come from the baseline cache), plus,
where the corpus records libraries, a plain compile per module to link the
default's libraries (its `seconds` in `stages.json` say what it took).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.policy.saved import load_fast_policy
from compiler_opt.pool.backends import make_pool
from compiler_opt.problems import get_problem

if TYPE_CHECKING:
    from compiler_opt.policy.fast import FastPolicy

PROBLEM = "inlining"
STAGES = ("corpus", "bc", "train", "select", "eval", "reference", "export", "report")
ALGORITHMS = ("es", "ppo")
SELECTION_MODULES = 64
STATE_FILE = "stages.json"
BC_SHARE = 1 / 6

SampleCorpusBuilder = Callable[[Toolchain, str], Path]
"""Builds (or finds cached) the sample corpus of a size (`DemoOptions.corpus_size`) with a toolchain; returns its
folder. The command line passes one (`corpus_tools` builds it); the library never imports the tools."""


@dataclass(frozen=True)
class DemoOptions:
    """What `mlgo demo` was asked for."""

    output: Path
    budget_minutes: float = 20.0
    corpus: Path | None = None
    corpus_size: str = "full"
    validation_fraction: float = 0.2
    workers: int | None = None
    seed: int = 0
    clang: str | None = None
    verify: int = 200
    aot: bool = True
    max_eval_modules: int | None = None
    modules_per_iteration: int | None = None
    algorithm: str = "es"


class DemoState:
    """`stages.json`: what each finished stage produced (its figures), written after each stage."""

    def __init__(self, output: Path, options: DemoOptions) -> None:
        self.path = output / STATE_FILE
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}
        settings = {
            "budget_minutes": options.budget_minutes,
            "seed": options.seed,
            "algorithm": options.algorithm,
            "validation_fraction": options.validation_fraction,
            "corpus": str(options.corpus) if options.corpus else f"sample:{options.corpus_size}",
        }
        if self.data.get("settings") not in (None, settings):
            raise MlgoError(
                f"{output} holds a demo run with other settings ({self.data['settings']}); "
                f"name another --output, or delete {self.path} to start over"
            )
        self.data["settings"] = settings
        self.data.setdefault("stages", {})

    def done(self, stage: str) -> dict | None:
        return self.data["stages"].get(stage)

    def finish(self, stage: str, figures: dict) -> None:
        self.data["stages"][stage] = figures
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps(self.data, indent=1) + "\n")
        staging.replace(self.path)


def run_demo(
    options: DemoOptions, build_sample_corpus: SampleCorpusBuilder, say: Callable[[str], None] = print
) -> dict:
    """Run (or resume) every stage; returns the stage figures, the headline among them.

    `build_sample_corpus` makes the corpus when `options.corpus` names none.
    """
    from compiler_opt.export.exporter import export_policy
    from compiler_opt.report.evaluate import evaluate
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
                ),
                pool,
            )
            if summary.iterations == 0:
                raise MlgoError(f"{algorithm}: no iteration fitted in {seconds:.0f} s; give more --budget-minutes")
            return {
                "run": str(run_dir),
                "iterations": summary.iterations,
                "stopped": summary.stopped,
                "last": summary.last,
                "peak_rss_bytes": summary.peak_rss_bytes,
            }

        stage("bc", lambda: training_stage("bc", output / "bc", budget * BC_SHARE, None))
        stage(
            "train",
            lambda: training_stage(
                options.algorithm, output / "train", budget * (1 - BC_SHARE), output / "bc" / "policy"
            ),
        )
        policy_dir = output / "policy"

        def select_stage() -> dict:
            corpus = load_corpus(corpus_dir)
            training = corpus.split(options.validation_fraction)[0]
            sample = list(training.sample(min(SELECTION_MODULES, len(training)), options.seed))
            candidates = {"train": output / "train" / "policy", "bc": output / "bc" / "policy"}
            ratios: dict[str, float] = {}
            for name, folder in candidates.items():
                report = evaluate(
                    corpus,
                    problem,
                    load_fast_policy(folder),
                    toolchain=toolchain,
                    pool=pool,
                    baselines=baselines,
                    policy_label=str(folder),
                    modules=sample,
                    seed=options.seed,
                )
                ratios[name] = report["summary"]["total_ratio"]
            chosen = min(ratios, key=ratios.__getitem__)  # the trained policy on a tie
            _replace_tree(candidates[chosen], policy_dir)
            return {
                "chosen": chosen,
                "selection_modules": len(sample),
                **{f"{name}_total_ratio": ratio for name, ratio in ratios.items()},
            }

        stage("select", select_stage)

        def evaluate_on_validation(policy: str | FastPolicy, label: str, path: Path) -> dict:
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
            report = evaluate_on_validation(load_fast_policy(policy_dir), str(policy_dir), path)
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
        result = export_policy(
            policy_dir,
            output / "export",
            aot=options.aot,
            tflite=True,
            verify=options.verify,
            corpus=load_corpus(corpus_dir),
            clang=str(toolchain.clang),
            problem=PROBLEM,
            seed=options.seed,
            log=say,
        )
        verified = result.verify.to_json() if result.verify is not None else None
        return {"export": str(output / "export"), "forms": result.forms, "verify": verified}

    stage("export", export_stage)

    def report_stage() -> dict:
        evaluations = [eval_figures["eval"], *reference_figures["evaluations"]]
        files = make_report(evaluations, output / "report", run_paths=[output / "bc", output / "train"])
        lines = [verdict.line() for verdict in verdicts([load_evaluation(path) for path in evaluations])]
        return {"report": str(files.html), "verdicts": lines}

    report_figures = stage("report", report_stage)
    headline = (
        f"{eval_figures['modules'] - eval_figures['failed']} modules never seen in training: "
        f"{_percent_smaller(eval_figures['total_ratio'])} than clang -Oz "
        f"(total .text; geomean ratio {eval_figures['geomean_ratio']:.4f})"
    )
    state.data["headline"] = headline
    state.finish("report", report_figures)
    say(
        f"\npolicy:  {policy_dir}\neval:    {eval_figures['eval']}\nexport:  {output / 'export'}\n"
        f"report:  {output / 'report' / 'report.html'}\n(this call: {time.monotonic() - started:.0f} s)\n\n"
        + "".join(f"{line}\n" for line in report_figures.get("verdicts", ()))
        + headline
    )
    return state.data


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
