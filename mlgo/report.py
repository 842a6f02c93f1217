"""`mlgo report`: compare policies with the default heuristic in an HTML page, Markdown tables and a CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from compiler_opt.report.render import make_report
from mlgo.flags import add_output_flag, describe

EPILOG = """writes into --output:
  report.html   first, a verdict per learned policy against each built-in policy's evaluation given
                (e.g. `mlgo eval --policy rule`, the inliner's hand rule): beats it or not, in total;
                headline table per policy, headroom (with --search), per-project and per-language
                breakdown, distribution of per-module changes, sortable per-module table, figures
                (spill/reload/copy costs for register allocation), runtime and linked sizes
                when the evaluation has them, training curves; self-contained, works offline.
                Each built-in policy's evaluation given is a reference: its change stands beside
                each learned policy's in every per-project, per-language, per-module, linked and
                runtime table and in every plot (on the modules both compiled), and a policy's
                linked change beside its per-object one where the evaluations were --linked
  report.md     the headline tables (and each policy's linked, runtime and per-language ones),
                for pasting into a review
  modules.csv   one row per evaluation and module
  *.png         the plots

examples:
  mlgo report eval/validation.json --runs runs/ppo --search search.json --output report/
  mlgo report eval/validation.json eval/rule.json --output report/   # the policy against the hand rule
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo report`'s flags to its parser."""
    describe(
        parser,
        description="Make a report from evaluation files (`mlgo eval --output`) and training run folders "
        "(`mlgo train --output`): totals and per-module changes versus the compiler's default heuristic, "
        "per project and language, beside those of any built-in reference policy evaluated (the hand rule), "
        "and training curves.",
        epilog=EPILOG,
    )
    parser.add_argument(
        "evaluations",
        nargs="*",
        type=Path,
        metavar="EVAL.json",
        help="evaluation files written by `mlgo eval` (one per policy to compare)",
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        action="extend",
        type=Path,
        default=[],
        metavar="RUN_DIR",
        help="training run folders (`mlgo train --output`) whose log.jsonl to plot",
    )
    parser.add_argument(
        "--search",
        type=Path,
        metavar="SEARCH.json",
        help="a search result (`mlgo search --output`): show how much of the headroom it found each policy reaches",
    )
    add_output_flag(
        parser, "folder to write the report into (created if needed; report files in it are replaced)", metavar="DIR"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.evaluations and not args.runs:
        from mlgo.cli import CommandError

        raise CommandError("give at least one EVAL.json or one --runs RUN_DIR")
    files = make_report(args.evaluations, args.output, args.runs, args.search)
    print(f"report:  {files.html}")
    print(f"tables:  {files.markdown}")
    print(f"modules: {files.csv}")
    print(f"plots:   {len(files.plots)} PNG files in {args.output}")
    return 0
