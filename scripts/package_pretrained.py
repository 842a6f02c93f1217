"""Package a trained policy into mlgo as `pretrained:NAME`, with its provenance (for maintainers).

    .venv/bin/python scripts/package_pretrained.py --run RUN_DIR --name inlining-oz \\
        --eval policy-validation.json --reference rule-validation.json [--budget-minutes 60] [--replace]

RUN_DIR is a `mlgo train` run folder: its saved policy (RUN_DIR/policy) is
copied into compiler_opt/pretrained/NAME/policy/ (or `--root`), and
provenance.json is written beside it from what the run and the evaluations
recorded, nothing typed in by hand:

- from RUN_DIR/config.json and state.json: problem, algorithm (following
  `--warmstart` back through the runs it started from, e.g. "bc of rule, then
  es", naming the built-in policy a BC run cloned unless it was the default),
  seed, the modules of each split, the compiler, the iterations done and the
  seconds they took (and `--budget-minutes`, what the run was given);
- from the corpus folder the run names: its name, and the sample corpus's
  cache key (sample_build.json) when it has one;
- from `--eval` (`mlgo eval --policy RUN_DIR/policy` on validation modules,
  never trained on): total and geomean ratios to the compiler's own
  heuristic, per language, and linked .text when evaluated with --linked;
  an evaluation of a policy per language (`--policy 'c=default,c++=RUN_DIR/policy'`)
  is taken when the run's policy is a member, and the provenance then says
  which languages it serves (`languages`) and as what it was evaluated
  (`evaluated_as`);
- from each `--reference` (`mlgo eval --policy rule`, say, on the same
  modules): the policy's total against the reference's on the modules both
  compiled (`compiler_opt.report.references.verdicts`).

An evaluation made with another compiler than the run's is refused. The
registry and the provenance fields are described in
compiler_opt/policy/pretrained.py.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler_opt.errors import MlgoError
from compiler_opt.policy.by_language import parse_language_policies
from compiler_opt.policy.pretrained import PACKAGE_ROOT, package_policy
from compiler_opt.report.inputs import Evaluation, RuntimeProgram, load_evaluation
from compiler_opt.report.references import is_reference, verdicts
from compiler_opt.training.run_folder import RunFolder


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MlgoError(f"cannot read {path}: {error}") from error


def algorithm_chain(config: dict) -> str:
    """The run's algorithm, after those of the runs it was warm-started from ("bc of rule, then es")."""
    chain = [_algorithm(config)]
    warmstart = config.get("warmstart")
    while warmstart:
        parent = Path(warmstart).parent / "config.json"
        packaged = Path(warmstart).parent / "provenance.json"
        if packaged.is_file():  # a pretrained policy's folder: its provenance says how it was trained
            earlier = _json(packaged)
            chain.append(f"pretrained:{earlier.get('name')} ({earlier.get('algorithm')})")
            break
        if not parent.is_file():
            chain.append(f"a policy from {warmstart}")
            break
        earlier = _json(parent)
        chain.append(_algorithm(earlier))
        warmstart = earlier.get("warmstart")
    return ", then ".join(reversed(chain))


def _algorithm(config: dict) -> str:
    """A run's algorithm, with the built-in policy BC cloned when it is not the compiler's own."""
    teacher = config.get("trainer", {}).get("label_policy", "default")
    return f"bc of {teacher}" if config["algorithm"] == "bc" and teacher != "default" else config["algorithm"]


def corpus_record(config: dict) -> dict[str, Any]:
    folder = Path(config["corpus"])
    record: dict[str, Any] = {"name": folder.name, "modules": dict(config.get("modules", {}))}
    build = folder / "sample_build.json"
    if build.is_file():
        record["cache_key"] = _json(build).get("key")
    record["split"] = config.get("split")
    record["validation_fraction"] = config.get("validation_fraction")
    return record


def _ratio(pairs: Sequence[tuple[float, float]]) -> float | None:
    default = sum(d for d, _ in pairs)
    return None if default <= 0 else sum(p for _, p in pairs) / default


def _program_record(program: RuntimeProgram) -> dict[str, Any]:
    default, policy = program.figures.get("instructions", (None, None))
    if program.error or not default or policy is None:
        return {"program": program.program, "error": program.error or "no instruction count"}
    return {"program": program.program, "instructions_vs_default": policy / default}


def validation_record(evaluation: Evaluation, references: Sequence[Evaluation]) -> dict[str, Any]:
    """The policy's figures on the evaluated modules: against the default, and against each reference."""
    ok = [m for m in evaluation.modules if m.ok and m.default is not None and m.policy is not None]
    record: dict[str, Any] = {
        "evaluation": evaluation.path.name,
        "corpus": Path(evaluation.corpus).name,
        "compiler": evaluation.compiler,
        "evaluated": evaluation.created,
        "measurement": evaluation.measurement,
        "modules": len(ok),
        "failed": evaluation.summary.failed,
        "total_vs_default": evaluation.summary.total_ratio,
        "geomean_vs_default": evaluation.summary.geomean_ratio,
        "by_language": {
            language: _ratio([(m.default or 0.0, m.policy or 0.0) for m in ok if m.language == language])
            for language in sorted({m.language for m in ok if m.language})
        },
    }
    if evaluation.linked:
        linked = [(lib.default, lib.policy) for lib in evaluation.linked if lib.default and lib.policy is not None]
        record["linked_vs_default"] = _ratio([(float(d), float(p)) for d, p in linked])
        record["linked_libraries"] = len(linked)
    if evaluation.runtime:
        # Programs built under the policy and run (`mlgo eval --runtime`): instructions under callgrind.
        record["runtime"] = [_program_record(program) for program in evaluation.runtime]
    for reference in references:
        if not is_reference(reference):
            raise MlgoError(
                f"{reference.path} evaluates {reference.policy!r}, not a built-in policy to compare with "
                "(e.g. `mlgo eval --policy rule`; the compiler's own decisions are what every ratio is against)"
            )
    found = verdicts([evaluation, *references])
    missing = [r.policy for r in references if not any(v.reference == r.policy for v in found)]
    if missing:
        raise MlgoError(f"no module that both the policy's evaluation and {', '.join(missing)} compiled")
    record["references"] = [
        {
            "policy": v.reference,
            "modules": v.modules,
            "total_vs_default": v.reference_ratio,
            "policy_total_vs_default": v.policy_ratio,
            "beats": v.beats,
        }
        for v in found
    ]
    if found:
        first = found[0]
        record["total_vs_reference"] = first.policy_ratio / first.reference_ratio
        record["reference"] = first.reference
    return record


def serving_languages(evaluated: str, policy: Path) -> list[str] | None:
    """The languages whose member is `policy` in the evaluated policy per language (None: not per language)."""
    per_language = parse_language_policies(evaluated)
    if per_language is None:
        return None
    return [
        language
        for language, member in per_language
        if Path(member).is_dir() and Path(member).resolve() == policy.resolve()
    ]


def provenance(
    run: Path, evaluation: Path, references: Sequence[Path], budget_minutes: float | None
) -> tuple[Path, dict[str, Any]]:
    """The run's saved policy folder and the provenance `package_policy` takes."""
    folder = RunFolder(run)
    config = folder.read_config()
    state = folder.read_state() or {}
    if not (folder.policy / "feature_spec.json").is_file():
        raise MlgoError(f"{run} holds no saved policy ({folder.policy}); is it a `mlgo train` run folder?")
    version = str(config["compiler"]["identity"]).split("|", 1)[0]
    evaluated = load_evaluation(evaluation)
    checked = [load_evaluation(path) for path in references]
    named = Path(evaluated.policy)
    if named.is_dir() and named.resolve() != folder.policy.resolve():
        raise MlgoError(f"{evaluation} evaluates the policy {named}, not the run's {folder.policy}")
    languages = serving_languages(evaluated.policy, folder.policy)
    if languages == []:
        raise MlgoError(
            f"{evaluation} evaluates {evaluated.policy!r}, none of whose members is the run's {folder.policy}"
        )
    for item in (evaluated, *checked):
        if item.problem != config["problem"]:
            raise MlgoError(f"{item.path} evaluates a {item.problem} policy, the run trained {config['problem']}")
        if not item.compiler.startswith(version):
            raise MlgoError(f"{item.path} was evaluated with {item.compiler}, the run trained with {version}")
    budget: dict[str, Any] = {"iterations": state.get("iteration", 0)}
    elapsed = state.get("record", {}).get("elapsed")
    if isinstance(elapsed, (int, float)) and math.isfinite(elapsed):
        budget["seconds"] = round(float(elapsed), 1)
    if budget_minutes is not None:
        budget["minutes_given"] = budget_minutes
    record = {
        "problem": config["problem"],
        "algorithm": algorithm_chain(config),
        "budget": budget,
        "seed": config["seed"],
        "corpus": corpus_record(config),
        "compiler": {"version": version, "clang": config["compiler"]["clang"]},
        "validation": validation_record(evaluated, checked),
        **({"languages": languages, "evaluated_as": evaluated.policy} if languages else {}),
        "created": config.get("created"),
        "network": config.get("network"),
    }
    return folder.policy, record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, type=Path, help="the `mlgo train` run folder")
    parser.add_argument("--name", required=True, help="the name it is given by: pretrained:NAME")
    parser.add_argument("--eval", required=True, type=Path, help="`mlgo eval` of RUN/policy on validation modules")
    parser.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        help="`mlgo eval` of a built-in policy on the same modules (e.g. --policy rule); repeatable",
    )
    parser.add_argument("--budget-minutes", type=float, help="the training budget the run was given, if any")
    parser.add_argument(
        "--root", type=Path, default=PACKAGE_ROOT, help=f"the registry folder (default: {PACKAGE_ROOT})"
    )
    parser.add_argument("--replace", action="store_true", help="replace a policy already packaged as NAME")
    args = parser.parse_args(argv)
    try:
        policy, record = provenance(args.run, args.eval, args.reference, args.budget_minutes)
        packaged = package_policy(policy, args.name, record, root=args.root, replace=args.replace)
    except MlgoError as error:
        print(f"package_pretrained: error: {error}", file=sys.stderr)
        return 2
    print(f"packaged pretrained:{packaged.summary()}")
    print(f"written: {packaged.folder} ({packaged.provenance['policy']['bytes']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
