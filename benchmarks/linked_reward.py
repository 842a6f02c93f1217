"""Per-object versus linked module values: what each says of a policy, and what linked values cost.

For every module of a corpus that records its libraries (default: the full
sample corpus), this compiles the module under a built-in policy (default:
`rule`, the inlining hand rule) and values the compile two ways:

- per object: the object's Berkeley text (the problem's measurement);
- linked (`compiler_opt.collect.linked_size.LinkedScorer`): its `-Oz` object's
  value plus the change its object makes to its library's linked `.text`,
  the other members at `-Oz`.

Printed per library and per language: the policy's total over `-Oz` under
both values, and the ratio of the library linked whole from the policy's
objects (what `mlgo eval --linked` reports); then how often the two values
disagree on a module's direction, and the cost: the one-off preparation (the
libraries' `-Oz` objects and links, cached) and the seconds per linked value
(one link of the module's library, on one core).

    .venv/bin/python benchmarks/linked_reward.py [--corpus DIR] [--policy rule] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from compiler_opt.collect.compile_job import CompileTask, compile_jobs
from compiler_opt.collect.linked_cache import sha256_bytes
from compiler_opt.collect.linked_size import LinkedBaselines, link_library
from compiler_opt.corpus.loading import ModuleSpec, load_corpus
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from corpus_tools.sample import build_sample

CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".C", ".c++")


def language(spec: ModuleSpec) -> str:
    args = list(spec.cc1_args)
    main = args[args.index("-main-file-name") + 1] if "-main-file-name" in args else ""
    return "c++" if main.endswith(CXX_SUFFIXES) else "c"


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the full sample corpus)")
    parser.add_argument("--clang", default=None)
    parser.add_argument("--policy", default="rule", help="a built-in inlining policy (default: rule)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="linked-size cache folder (default: a fresh temporary one)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    toolchain = find_toolchain(args.clang)
    root = args.corpus or build_sample(toolchain, size="full")[0]
    corpus = load_corpus(root)
    problem = get_problem("inlining")
    with tempfile.TemporaryDirectory(prefix="mlgo-linked-bench-") as tmp, LocalPool(args.workers) as pool:
        cache = args.cache or Path(tmp) / "linked"
        source = LinkedBaselines(cache, toolchain, problem, corpus)
        began = time.monotonic()
        scorer = source.scorer(list(corpus.modules), pool)
        prepare_seconds = time.monotonic() - began
        print(f"prepared {len(scorer.libraries)} libraries in {prepare_seconds:.1f} s ({source.counts})")

        tasks = [
            CompileTask(
                m, problem.name, str(toolchain.clang), args.policy, explore=False, record=False, keep_object=True
            )
            for m in corpus.modules
        ]
        began = time.monotonic()
        compiled = {r.key: r.unwrap() for r in pool.run(compile_jobs(tasks), desc=f"{args.policy} compiles")}
        compile_seconds = time.monotonic() - began

        rows = []
        link_seconds = []
        whole: dict[str, list[Path]] = defaultdict(list)
        for spec in corpus.modules:
            member = scorer.members.get(spec.name)
            if member is None:
                continue
            result = compiled[spec.name]
            assert result.object is not None  # kept as asked
            before = time.perf_counter()
            value = scorer.value(spec.name, result.score, result.object)
            if sha256_bytes(result.object) != member.sha256:  # an object like the -Oz one is valued without a link
                link_seconds.append(time.perf_counter() - before)
            path = Path(tmp) / "objects" / (spec.name.replace("/", "__") + ".o")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(result.object)
            whole[member.library].append(path)
            rows.append((spec.name, member.library, language(spec), member.value, result.score.value, value))

        libraries = []
        for library, paths in sorted(whole.items()):
            mine = [row for row in rows if row[1] == library]
            base = sum(row[3] for row in mine)
            linked_whole = link_library(toolchain, paths, Path(tmp) / "whole.so", name=library).text_section
            libraries.append(
                {
                    "library": library,
                    "language": mine[0][2],
                    "modules": len(mine),
                    "object": ratio(sum(row[4] for row in mine), base),
                    "linked_per_module": ratio(sum(row[5] for row in mine), base),
                    "linked_whole": ratio(linked_whole, scorer.libraries[library].text_section),
                    "linked_whole_text": linked_whole,
                    "oz_linked_text": scorer.libraries[library].text_section,
                }
            )

    def totals(selected):
        base = sum(row[3] for row in selected)
        linked = [row for row in libraries if row["language"] in {r[2] for r in selected}]
        return {
            "linked_whole": ratio(
                sum(row["linked_whole_text"] for row in linked), sum(row["oz_linked_text"] for row in linked)
            ),
            "modules": len(selected),
            "object": ratio(sum(row[4] for row in selected), base),
            "linked_per_module": ratio(sum(row[5] for row in selected), base),
            "object_geomean": math.exp(statistics.fmean(math.log((r[4] + 10) / (r[3] + 10)) for r in selected)),
            "linked_geomean": math.exp(statistics.fmean(math.log((r[5] + 10) / (r[3] + 10)) for r in selected)),
        }

    def sign(x: float) -> int:
        return (x > 0) - (x < 0)

    disagree = [r for r in rows if sign(r[4] - r[3]) != sign(r[5] - r[3])]
    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {platform.node()}",
        "clang": toolchain.version_text.splitlines()[0],
        "corpus": str(root),
        "policy": args.policy,
        "workers": args.workers,
        "all": totals(rows),
        "c": totals([r for r in rows if r[2] == "c"]),
        "c++": totals([r for r in rows if r[2] == "c++"]),
        "libraries": libraries,
        "modules_changed": sum(r[4] != r[3] for r in rows),
        "modules_disagreeing": len(disagree),
        "disagreeing_examples": [{"module": r[0], "oz": r[3], "object": r[4], "linked": r[5]} for r in disagree[:10]],
        "seconds_prepare": prepare_seconds,
        "prepare_counts": source.counts,
        "seconds_policy_compiles": compile_seconds,
        "linked_values_timed": len(link_seconds),
        "seconds_per_linked_value_median": statistics.median(link_seconds) if link_seconds else None,
        "seconds_per_linked_value_mean": statistics.fmean(link_seconds) if link_seconds else None,
        "seconds_per_linked_value_max": max(link_seconds) if link_seconds else None,
    }
    for name in ("all", "c", "c++"):
        t = figures[name]
        print(
            f"{name:4s} {t['modules']:4d} modules: object {t['object']:.4f} (geomean {t['object_geomean']:.4f}), "
            f"linked per module {t['linked_per_module']:.4f} (geomean {t['linked_geomean']:.4f}), "
            f"libraries linked whole {t['linked_whole']:.4f}"
        )
    for row in libraries:
        print(
            f"  {row['library']:18s} {row['language']:4s} {row['modules']:3d}: object {row['object']:.4f}, "
            f"linked per module {row['linked_per_module']:.4f}, linked whole {row['linked_whole']:.4f}"
        )
    print(
        f"{figures['modules_changed']} modules changed, {figures['modules_disagreeing']} where the two values "
        f"disagree on the direction; {len(link_seconds)} linked values timed: median "
        f"{figures['seconds_per_linked_value_median']:.3f} s, mean {figures['seconds_per_linked_value_mean']:.3f} s, "
        f"max {figures['seconds_per_linked_value_max']:.3f} s; policy compiles {compile_seconds:.1f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
