"""Host time per decision of the numpy fast form of a policy (`FastPolicy`), greedy and sampled.

Records the inliner's real observations compiling `tests/data/calls.cc`
(about 1,100 of them: under clang's own decisions and inlining everything),
builds a fast policy over them (a vocabulary from those observations, an
MLP of 40-40-20 with seeded random weights), and times each decision
function over all the observations, the fastest of `--repeats` passes.

    .venv/bin/python benchmarks/fast_policy_speed.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compiler_opt.collect.actor import act, builtin_decider  # noqa: E402
from compiler_opt.llvm.bitcode import compile_embedding, dump_embedded  # noqa: E402
from compiler_opt.llvm.cmdline import CompileCommand, read_cmd_file  # noqa: E402
from compiler_opt.llvm.log_format import LogHeader, Observation  # noqa: E402
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain  # noqa: E402
from compiler_opt.policy.config import NetworkConfig  # noqa: E402
from compiler_opt.policy.fast import FastPolicy  # noqa: E402
from compiler_opt.policy.features import build_feature_spec  # noqa: E402
from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms  # noqa: E402
from compiler_opt.policy.vocab import compute_vocab  # noqa: E402
from compiler_opt.problems import get_problem  # noqa: E402

SOURCE = REPO / "tests" / "data" / "calls.cc"
LAYERS = (40, 40, 20)


def record(toolchain: Toolchain, command: CompileCommand, policy: str) -> tuple[LogHeader, list[Observation]]:
    """Every observation the inliner sends compiling `command` under the built-in `policy`."""
    problem = get_problem("inlining")
    builtin = problem.policy(policy)
    answer = builtin_decider(toolchain, builtin, seed=1)
    observations: list[Observation] = []
    headers: list[LogHeader] = []

    def make_decide(header: LogHeader):
        headers.append(header)
        decide = answer(header)

        def keep(observation: Observation):
            observations.append(observation)
            return decide(observation)

        return keep

    act(toolchain, problem, command, make_decide, include_default=builtin.include_default)
    return headers[0], observations


def fast_policy(toolchain: Toolchain, workdir: Path) -> tuple[FastPolicy, list[Observation]]:
    obj, bitcode, cmd = workdir / "calls.o", workdir / "calls.bc", workdir / "calls.cmd"
    compile_embedding(toolchain, SOURCE, obj, ["-Oz"])  # as a corpus holds it: bitcode and its cc1 command
    dump_embedded(toolchain, obj, bitcode, cmd)
    command = CompileCommand.from_cc1(toolchain, read_cmd_file(cmd), bitcode, origin=SOURCE.name)
    header, with_default = record(toolchain, command, "default")
    _, always = record(toolchain, command, "always")
    observations = with_default + always
    problem = get_problem("inlining")
    spec = build_feature_spec(header, exclude=problem.excluded_features, num_actions=2)
    vocab = compute_vocab(observations, spec)
    config = NetworkConfig(fc_layer_params=LAYERS)
    sizes = [Preprocessor(feature_transforms(spec, vocab, config.identity)).width, *LAYERS, 2]
    rng = np.random.default_rng(7)
    weights = [(rng.normal(0, 1 / math.sqrt(a), (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(sizes, sizes[1:])]
    return FastPolicy(spec, vocab, config, weights), observations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the observations (fastest kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    toolchain = find_toolchain()
    with tempfile.TemporaryDirectory(prefix="mlgo-bench-") as tmp:
        fast, observations = fast_policy(toolchain, Path(tmp))
    rng = np.random.default_rng(0)
    figures = {}
    for name, decide in [("greedy", fast.greedy), ("sample", lambda o: fast.sample(o, rng))]:
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            for observation in observations:
                decide(observation)
            best = min(best, (time.perf_counter() - started) / len(observations))
        figures[name] = best * 1e6
    shape = f"{fast.preprocessor.width}-{'-'.join(str(k.shape[1]) for k, _ in fast.weights)}"
    if args.json:
        print(
            json.dumps(
                {
                    "us_per_decision": figures,
                    "observations": len(observations),
                    "features": len(fast.spec.names),
                    "mlp": shape,
                }
            )
        )
        return 0
    for name, microseconds in figures.items():
        print(
            f"fast form, {name}: {microseconds:.1f} us per decision ({len(observations)} real observations, "
            f"{len(fast.spec.names)} features, MLP {shape})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
