"""Compute a problem's feature vocabulary from traces collected on the pool.

Each module is compiled under the problem's vocabulary policy
(`Problem.vocab_policy`, the inliner's own decisions for inlining) by the
compile job, which records the features as the policy will see them (for the
inliner on LLVM 19, through the two-compile default-label path, so the
overwritten slot never reaches the vocabulary). Trajectories stream back as
their jobs finish and are folded at once into a bounded sample of
observations, so memory holds at most `sample_size` observations plus one
module's trajectory whatever the corpus size.

The sample is a bottom-k sample: every observation gets a pseudo-random key
drawn from a generator seeded with (seed, module name), and the
`sample_size` smallest keys are kept. Which observations are kept therefore
does not depend on the order in which jobs finish, so the same corpus, seed
and compiler always give the same vocabulary. The quantiles are then taken by
`compiler_opt.policy.vocab.compute_vocab`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from compiler_opt.collect.compile_job import CompileTask, compile_jobs, problem_feature_spec
from compiler_opt.collect.trajectories import ModuleTrajectory
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import DEFAULT_QUANTILES, DEFAULT_SAMPLE_SIZE, Vocab, compute_vocab
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems.base import Problem

__all__ = ["ObservationSample", "VocabRun", "collect_vocab"]


@dataclass
class VocabRun:
    """A computed vocabulary, the spec it covers, and what the collection saw."""

    vocab: Vocab
    spec: FeatureSpec
    modules_ok: int
    observations: int
    sampled: int
    failures: dict[str, str] = field(default_factory=dict)


class ObservationSample:
    """A bottom-k sample of observations under one header built from `spec` (order-independent, seeded)."""

    def __init__(self, spec: FeatureSpec, size: int, seed: int) -> None:
        if size < 1:
            raise ValueError("the sample size must be positive")
        self.spec = spec
        self.size = size
        self.seed = seed
        self.header = LogHeader(spec.features, advice=spec.advice)
        self._dtype = np.dtype(
            {
                "names": spec.names,
                "formats": [(f.dtype, (f.element_count,)) for f in spec.features],
                "offsets": [self.header.slots[f.name].offset for f in spec.features],
                "itemsize": self.header.observation_size,
            }
        )
        self._keys = np.zeros(0, np.float64)
        self._rows = np.zeros((0, self.header.observation_size), np.uint8)
        self.seen = 0

    def add(self, trajectory: ModuleTrajectory | None) -> None:
        """Offer every step of one module's trajectory to the sample (None: the module made no decision)."""
        if trajectory is None or len(trajectory) == 0:
            return
        steps = len(trajectory)
        table = np.zeros(steps, self._dtype)
        for feature in self.spec.features:
            table[feature.name] = np.asarray(trajectory.features[feature.name]).reshape(steps, feature.element_count)
        rows = table.view(np.uint8).reshape(steps, self.header.observation_size)
        keys = np.random.default_rng([self.seed, zlib.crc32(trajectory.module.encode())]).random(steps)
        self.seen += steps
        keys = np.concatenate([self._keys, keys])
        rows = np.concatenate([self._rows, rows])
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keep.sort()
            keys, rows = keys[keep], rows[keep]
        self._keys, self._rows = keys, rows

    def observations(self) -> list[Observation]:
        """The sampled observations, in key order."""
        order = np.argsort(self._keys, kind="stable")
        return [Observation(None, index, self._rows[row].tobytes(), self.header) for index, row in enumerate(order)]


def collect_vocab(
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    pool: WorkerPool,
    *,
    seed: int = 0,
    quantiles: int = DEFAULT_QUANTILES,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    timeout: float = 600.0,
) -> VocabRun:
    """The vocabulary of `problem`'s features over traces of `modules` (see the module docstring)."""
    if not modules:
        raise MlgoError("no modules to collect vocabulary traces from")
    spec = problem_feature_spec(toolchain, problem, modules)
    sample = ObservationSample(spec, sample_size, seed)
    tasks = [
        CompileTask(
            module,
            problem.name,
            str(toolchain.clang),
            problem.vocab_policy,
            explore=False,
            seed=seed,
            record=True,
            timeout=timeout,
        )
        for module in modules
    ]
    failures: dict[str, str] = {}
    ok = 0
    for result in pool.run(compile_jobs(tasks), desc="vocab traces"):
        if not result.ok:
            failures[result.key] = f"{type(result.error).__name__}: {result.error}"
            continue
        ok += 1
        sample.add(result.value.trajectory)
    if sample.seen == 0:
        raise MlgoError(
            f"the {len(modules)} modules made no {problem.name} decisions under policy "
            f"{problem.vocab_policy!r} ({len(failures)} failed), so there is nothing to compute a "
            "vocabulary from; use more modules or another corpus"
        )
    observations = sample.observations()
    vocab = compute_vocab(observations, spec, quantiles=quantiles, sample_size=len(observations), seed=seed)
    return VocabRun(vocab, spec, ok, sample.seen, len(observations), failures)
