"""The training loop: collect with the current policy, learn, save, log; resumable after a kill.

    options = TrainOptions(problem="inlining", algorithm="ppo", corpus=..., output=RUN_DIR)
    with make_pool("local", workers=2) as pool:
        summary = train(options, pool)

PPO, per iteration (`compiler_opt.rl.collection.collect_iteration` does the
collecting): sample modules from the corpus's training split (seeded,
size-stratified, minus modules set aside), compile them under the current
policy's numpy form on the pool, reward each against its cached baseline,
write the trajectories to TFRecord, train the tf-agents PPO agent on them,
then write the checkpoint, the saved policy (atomically), one log.jsonl
record, TensorBoard scalars, and last `state.json`, which marks the
iteration complete (`compiler_opt.rl.run_folder`).

ES, per step (`compiler_opt.es`): sample modules, compile each under both
sides of a seeded set of antithetic perturbations of the current policy's
weights (and under the policy itself, for the log), score each side by its
mean reward against the baselines, and take one optimizer step along the
estimated gradient; then the same bookkeeping as PPO.

BC: collect the default heuristic's decisions as labels for the training
modules once (split by name into training and hold-out labels), then each
iteration is one epoch of cross-entropy over the training labels, logged
with the agreement of the saved policy's greedy decisions with the hold-out
labels.

Before the first iteration a run needs its feature spec (from the compiler's
header), a vocabulary (given, a warm-start policy's, computed from default
traces of training modules, or for BC from its labels) and an actor (new,
or a warm-start policy's weights). `--resume` reads all that back from the
run folder, restores the learner from the last complete iteration's
checkpoint and goes on; the iteration in flight at the kill is redone.

Configuration: gin (`compiler_opt/problems/gin/<problem>/<algorithm>.gin`,
then the user's files and bindings), stored as text in config.json so a
resumed run uses exactly what it started with; the command line's explicit
values (iterations, modules per iteration) override gin.
"""

from __future__ import annotations

import datetime
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import gin

import compiler_opt
from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.pool.base import WorkerPool
from compiler_opt.collect.vocab_traces import ObservationSample, collect_vocab
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.export.policy_problem import check_policy_problem
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.policy.config import NetworkConfig, network_config
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import DEFAULT_SAMPLE_SIZE, Vocab, compute_vocab
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.progress import progress
from compiler_opt.rl.collection import ModuleBook, collect_iteration, collect_labels
from compiler_opt.rl.config import TrainerConfig, trainer_config
from compiler_opt.rl.gin_types import check_bindings
from compiler_opt.rl.memory import PeakMemory, resident_bytes
from compiler_opt.rl.reward import RewardTracker
from compiler_opt.rl.run_folder import RunFolder, RunFolderError
from compiler_opt.tf_runtime import import_tensorflow

ALGORITHMS = ("ppo", "bc", "es")
GIN_DIR = Path(compiler_opt.__file__).parent / "problems" / "gin"
# The configurables the gin files bind; their bindings' values are checked against the parameters' types.
GIN_CONFIGURABLES = ("train.trainer_config", "ppo.ppo_config", "bc.bc_config", "es.es_config", "policy.network_config",
                     "policy.value_network", "regalloc.cost_weights", "trajectory_dataset")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainOptions:
    """What `mlgo train` was asked for (paths and explicit overrides; everything else comes from gin).

    `iterations`, `modules_per_iteration` and `max_modules` (BC: how many training modules to label)
    override gin's `trainer_config` when given. `max_seconds` stops before an iteration that would end past
    the budget (estimated from this invocation's iterations). `baseline_cache` defaults to the per-user
    shared folder.
    """

    problem: str
    algorithm: str
    corpus: Path
    output: Path
    clang: str | None = None
    warmstart: Path | None = None
    vocab: Path | None = None
    iterations: int | None = None
    modules_per_iteration: int | None = None
    max_modules: int | None = None
    seed: int = 0
    validation_fraction: float = 0.2
    resume: bool = False
    max_seconds: float | None = None
    gin_files: tuple[Path, ...] = ()
    gin_bindings: tuple[str, ...] = ()
    baseline_cache: Path | None = None


@dataclass
class TrainSummary:
    """How a `train` call ended: the run folder, the iterations complete, the last log record, the peak memory."""

    output: Path
    iterations: int
    stopped: str
    last: dict | None
    peak_rss_bytes: int
    records: list[dict] = field(default_factory=list)


def default_gin_file(problem: str, algorithm: str) -> Path:
    """The problem's gin file for `algorithm` (`compiler_opt/problems/gin/<problem>/<algorithm>.gin`)."""
    path = GIN_DIR / problem / f"{algorithm}.gin"
    if not path.exists():
        raise MlgoError(f"problem {problem} has no {algorithm} configuration ({path} is missing); "
                        f"pass one with --gin_file")
    return path


def _load_gin(files: Sequence[Path], bindings: Sequence[str], text: str | None = None) -> str:
    """Reset gin, parse the configuration (files and bindings, or saved text); the operative text to store."""
    # Registers every configurable the files may name.
    import compiler_opt.collect.trajectories  # noqa: F401
    import compiler_opt.es.config  # noqa: F401
    import compiler_opt.policy.networks  # noqa: F401
    import compiler_opt.problems.measurements  # noqa: F401
    import compiler_opt.rl.bc  # noqa: F401
    import compiler_opt.rl.ppo  # noqa: F401

    gin.clear_config()
    try:
        if text is not None:
            gin.parse_config(text)
        else:
            for path in files:
                if not Path(path).is_file():
                    raise MlgoError(f"gin file {path} does not exist")
            gin.parse_config_files_and_bindings([str(p) for p in files], list(bindings))
    except (ValueError, NameError, KeyError, SyntaxError, TypeError, OSError) as error:
        raise MlgoError(f"bad gin configuration: {error}") from error
    check_bindings(GIN_CONFIGURABLES)
    return gin.config_str()


def train(options: TrainOptions, pool: WorkerPool) -> TrainSummary:
    """Run (or resume) training as `options` say, with compile jobs on `pool`; see the module docstring."""
    if options.algorithm not in ALGORITHMS:
        raise MlgoError(f"unknown algorithm {options.algorithm!r}; choose one of: {', '.join(ALGORITHMS)}")
    return _Run(options, pool).run()


class _Run:
    """One invocation of `train`: setup (fresh or resumed), the iterations, the bookkeeping between them."""

    def __init__(self, options: TrainOptions, pool: WorkerPool) -> None:
        self.options = options
        self.pool = pool
        self.folder = RunFolder(options.output)
        self.started = time.monotonic()
        self.memory = PeakMemory()
        self.records: list[dict] = []

    # ---- setup -----------------------------------------------------------------------------------------
    def _configure(self) -> None:
        options, folder = self.options, self.folder
        self.toolchain: Toolchain = find_toolchain(options.clang)
        self.problem: Problem = get_problem(options.problem)
        if options.resume and folder.started():
            saved = folder.read_config()
            self._check_resumable(saved)
            if options.gin_files or options.gin_bindings:
                asked = _load_gin([default_gin_file(options.problem, options.algorithm), *options.gin_files],
                                  options.gin_bindings)
                if asked != saved["gin"]:
                    raise MlgoError("--resume: the gin files and bindings given make another configuration than "
                                    f"the one {folder.root} started with (config.json); resume without --gin_file "
                                    "and --gin_bindings to use the run's own, or start a new run")
            self.gin_text = _load_gin((), (), saved["gin"])
            base = TrainerConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in saved["trainer"].items()})
            self.seed = int(saved["seed"])
            self.validation_fraction = float(saved["validation_fraction"])
            self.saved_config = saved
            self.warmstart = None if saved.get("warmstart") is None else Path(saved["warmstart"])
            self.vocab_source = None if saved.get("vocab") is None else Path(saved["vocab"])
        else:
            if options.resume:
                raise RunFolderError(f"--resume: {folder.root} holds no training run to resume (no config.json)")
            if folder.started():
                raise RunFolderError(f"{folder.root} already holds a training run; pass --resume to continue it, "
                                     "or choose another --output")
            files = [default_gin_file(options.problem, options.algorithm), *options.gin_files]
            self.gin_text = _load_gin(files, options.gin_bindings)
            base = trainer_config()
            self.seed = options.seed
            self.validation_fraction = options.validation_fraction
            self.saved_config = None
            self.warmstart, self.vocab_source = options.warmstart, options.vocab
        self.config = base.with_overrides(iterations=options.iterations,
                                          modules_per_iteration=options.modules_per_iteration,
                                          label_modules=options.max_modules)
        # The learner's gin settings are checked now, so a bad one fails before the run folder is written.
        self.learner_config = _learner_config(options.algorithm)
        corpus = load_corpus(options.corpus)
        self.training, self.validation = corpus.split(self.validation_fraction)
        if not len(self.training):
            raise MlgoError(f"the corpus {options.corpus} has no training modules with validation fraction "
                            f"{self.validation_fraction}; lower --validation-fraction")
        self.baselines = BaselineCache(options.baseline_cache or BaselineCache.shared_folder(), self.toolchain,
                                       self.problem)

    def _check_resumable(self, saved: dict) -> None:
        options = self.options
        for key, value in (("problem", options.problem), ("algorithm", options.algorithm),
                           ("corpus", str(Path(options.corpus).resolve()))):
            if saved.get(key) != value:
                raise RunFolderError(f"--resume: {self.folder.root} is a {saved.get('algorithm')} run of problem "
                                     f"{saved.get('problem')} on corpus {saved.get('corpus')}, not {key} {value}; "
                                     "resume it with its own settings")
        if saved.get("compiler", {}).get("identity") != self.toolchain.identity:
            raise RunFolderError(f"--resume: {self.folder.root} was trained with {saved.get('compiler', {}).get('clang')} "
                                 f"({saved.get('compiler', {}).get('identity')}), not {self.toolchain.clang}; resume "
                                 "with the same compiler (--clang)")

    def _new_config(self) -> dict:
        options = self.options
        return {
            "format": FORMAT_VERSION,
            "problem": options.problem,
            "algorithm": options.algorithm,
            "corpus": str(Path(options.corpus).resolve()),
            "compiler": {"clang": str(self.toolchain.clang), "identity": self.toolchain.identity},
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "modules": {"training": len(self.training), "validation": len(self.validation)},
            "warmstart": None if self.warmstart is None else str(Path(self.warmstart).resolve()),
            "vocab": None if self.vocab_source is None else str(Path(self.vocab_source).resolve()),
            "trainer": self.config.to_json(),
            "network": self.network.to_json(),
            "gin": self.gin_text,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

    def _prepare_policy(self, state: dict | None) -> Any:
        """Spec, vocabulary and network config (read back, or made); the warm-start actor when there is one."""
        folder = self.folder
        if state is not None:
            self.spec = FeatureSpec.load(folder.root)
            self.vocab = Vocab.load(folder.vocab, self.spec.names)
            self.network = NetworkConfig.from_json(self.saved_config["network"])
            if int(state["iteration"]) == 0 and self.warmstart is not None:  # no checkpoint yet to restore
                from compiler_opt.policy.saved import load_actor_network

                return load_actor_network(self.warmstart)[0]
            return None
        self.spec = problem_feature_spec(self.toolchain, self.problem, self.training.modules)
        actor = None
        self.vocab = None
        if self.warmstart is not None:
            from compiler_opt.policy.saved import load_actor_network

            if self.vocab_source is not None:
                raise MlgoError("--warmstart brings the policy's own vocabulary; drop --vocab")
            actor, spec, self.vocab, self.network = load_actor_network(self.warmstart)
            check_policy_problem(spec, self.problem)
            if (spec.features, spec.advice) != (self.spec.features, self.spec.advice):
                raise MlgoError(f"the warm-start policy {self.warmstart} reads other features than "
                                f"{self.toolchain.clang} sends for problem {self.problem.name}; train it with this "
                                "compiler, or start without --warmstart")
        else:
            self.network = network_config()
        if self.vocab_source is not None:
            self.vocab = Vocab.load(self.vocab_source, self.spec.names)
        if self.saved_config is None:
            folder.create(self._new_config())
            self.saved_config = folder.read_config()
        self.spec.save(folder.root)
        return actor

    def _compute_vocab(self) -> Vocab:
        """A vocabulary from default traces of a seeded sample of training modules."""
        modules = self.training.sample(min(self.config.vocab_modules, len(self.training)), self.seed)
        result = collect_vocab(modules, self.problem, self.toolchain, self.pool, seed=self.seed,
                               timeout=self.config.compile_timeout)
        return result.vocab

    def _save_vocab(self) -> None:
        if self.folder.vocab.exists():
            shutil.rmtree(self.folder.vocab)
        self.vocab.save(self.folder.vocab)

    # ---- the run ---------------------------------------------------------------------------------------
    def run(self) -> TrainSummary:
        tf = import_tensorflow()
        self.memory.start()
        try:
            self._configure()
            state = self.folder.read_state() if self.options.resume else None
            tf.random.set_seed(self.seed)
            actor = self._prepare_policy(state)
            self.summaries = tf.summary.create_file_writer(str(self.folder.tensorboard))
            run = {"ppo": self._run_ppo, "bc": self._run_bc, "es": self._run_es}[self.options.algorithm]
            return run(state, actor)
        finally:
            self.memory.stop()

    def _restore(self, learner, state: dict) -> int:
        """Restore `learner` from the state's checkpoint; drop what the iteration in flight left behind (and
        restore the last complete iteration's log record if a torn line lost it)."""
        done = int(state["iteration"])
        if done >= 1:
            self._read_checkpoint(learner, done, self.folder.root / state["checkpoint"])
        self.folder.trim_logs(done, state.get("record"), state.get("line"))
        self._prune(done)
        self.policy_iteration = None
        if done >= 1:
            self._save_policy(learner, done)
        self.records = self.folder.read_log()
        return done

    def _read_checkpoint(self, learner, done: int, prefix: Path) -> None:
        """Restore `learner` from the checkpoint at `prefix`; a missing or unreadable one is a RunFolderError."""
        import tensorflow as tf

        advice = (f"restore that checkpoint's files, or start a new run (another --output; --warmstart "
                  f"{self.folder.policy} starts from the run's last saved policy)")
        if not prefix.with_name(prefix.name + ".index").exists():
            raise RunFolderError(f"--resume: {self.folder.root} cannot go on: the checkpoint of iteration {done}, "
                                 f"the last complete one ({self.folder.state.name}), is missing ({prefix}.*); "
                                 f"{advice}")
        try:
            learner.checkpoint().read(str(prefix)).expect_partial()
        except (tf.errors.OpError, ValueError, IndexError) as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            raise RunFolderError(f"--resume: {self.folder.root} cannot go on: the checkpoint of iteration {done} "
                                 f"({prefix}.*) is unreadable ({type(error).__name__}: {reason}); {advice}") from error

    def _save_policy(self, learner, iteration: int) -> None:
        from compiler_opt.policy.saved import save_policy

        save_policy(self.folder.policy, learner.actor, self.spec, self.vocab, self.network)
        self.policy_iteration = iteration

    def _final_policy(self, learner, done: int) -> None:
        """Save the last complete iteration's policy if the loop stopped between saves."""
        if done >= 1 and self.policy_iteration != done:
            self._save_policy(learner, done)

    def _prune(self, done: int) -> None:
        config = self.config
        self.folder.prune(range(done - config.keep_checkpoints + 1, done + 1),
                          range(done - config.keep_trajectory_iterations + 1, done + 1))

    def _budget_left(self, durations: list[float]) -> bool:
        if self.options.max_seconds is None:
            return True
        estimate = sum(durations) / len(durations) if durations else 0.0
        return time.monotonic() - self.started + estimate <= self.options.max_seconds

    def _finish_iteration(self, learner, iteration: int, record: dict, line: str, state: dict) -> None:
        """Checkpoint, policy (the first iteration's, then every `policy_every` iterations and the last), log line,
        TensorBoard, then the state that marks `iteration` complete (with the log record and line, should a torn
        log.jsonl lose them)."""
        import tensorflow as tf

        before = time.monotonic()
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        checkpoint = learner.checkpoint().write(str(self.folder.checkpoint_prefix(iteration)))
        if self.policy_iteration is None or iteration % self.config.policy_every == 0 \
                or iteration == self.config.iterations:
            self._save_policy(learner, iteration)
        record["policy_saved"] = self.policy_iteration == iteration
        record["seconds_save"] = time.monotonic() - before
        record["train_step"] = int(learner.step.numpy())
        record["peak_rss_bytes"] = self.memory.window_peak(reset=True)
        record["peak_rss_bytes_run"] = self.memory.peak()
        record["rss_bytes_trainer"] = resident_bytes([os.getpid()])
        record["elapsed"] = time.monotonic() - self.started
        record["time"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        line += f", peak {record['peak_rss_bytes'] / 2**30:.2f} GiB"
        self.folder.append_log(record, line)
        with self.summaries.as_default():
            for name, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None \
                        and math.isfinite(value):
                    tf.summary.scalar(name, value, step=iteration)
        self.summaries.flush()
        relative = str(Path(checkpoint).relative_to(self.folder.root))
        self.folder.write_state({**state, "iteration": iteration, "checkpoint": relative, "record": record,
                                 "line": line})
        self._prune(iteration)
        self.records.append(record)
        progress_write(line)

    def _iterate(self, learner, done: int, desc: str, unit: str, one: Callable[[int], None]) -> TrainSummary:
        """Run `one(iteration)` after `done` until the configured iterations or the time budget end; a bar shows
        progress; the last complete iteration's policy is saved."""
        total = self.config.iterations
        durations: list[float] = []
        bar = progress(total=total, desc=desc, unit=unit)
        bar.update(min(done, total))
        stopped = "iterations"
        try:
            for iteration in range(done + 1, total + 1):
                if not self._budget_left(durations):
                    stopped = "time budget"
                    break
                began = time.monotonic()
                one(iteration)
                durations.append(time.monotonic() - began)
                done = iteration
                bar.update(1)
        finally:
            bar.close()
        self._final_policy(learner, done)
        return self._summary(done, stopped)

    def _summary(self, done: int, stopped: str) -> TrainSummary:
        return TrainSummary(self.folder.root, done, stopped, self.records[-1] if self.records else None,
                            self.memory.peak(), list(self.records))

    # ---- PPO -------------------------------------------------------------------------------------------
    def _run_ppo(self, state: dict | None, actor) -> TrainSummary:
        from compiler_opt.rl.ppo import PPOLearner

        config = self.config
        if state is None:
            state = self._begin_online({"rewards": RewardTracker(config.reward_delta, config.reward_decay).to_json()})
        learner = PPOLearner(self.spec, self.vocab, self.network, actor=actor, config=self.learner_config)
        done = self._restore(learner, state)
        book = ModuleBook.from_json(state.get("modules", {}))
        tracker = RewardTracker.from_json(state["rewards"]) if "rewards" in state else \
            RewardTracker(config.reward_delta, config.reward_decay)
        return self._iterate(learner, done, "train ppo", "iteration",
                             lambda iteration: self._ppo_iteration(learner, iteration, book, tracker))

    def _begin_online(self, extra: dict) -> dict:
        """A fresh run of an algorithm that compiles under its own policy: vocabulary, then the state before
        iteration 1 (with `extra`)."""
        if self.vocab is None:
            self.vocab = self._compute_vocab()
        self._save_vocab()
        state = {"iteration": 0, "checkpoint": None}
        self.folder.write_state({**state, "modules": ModuleBook().to_json(), **extra})
        return state

    def _sample_training(self, book: ModuleBook, count: int, seed: int) -> Sequence:
        """A seeded, size-stratified sample of `count` training modules that are not set aside."""
        eligible = book.eligible(self.training.modules)
        if not eligible:
            raise MlgoError(f"every training module was set aside (see {self.folder.failed_modules}); fix the "
                            "corpus or the compiler and start a new run")
        return self.training.subset(eligible).sample(min(count, len(eligible)), seed)

    def _ppo_iteration(self, learner, iteration: int, book: ModuleBook, tracker: RewardTracker) -> None:
        config = self.config
        seed = self.seed * 1_000_003 + iteration
        modules = self._sample_training(book, config.modules_per_iteration, seed)
        figures = collect_iteration(self.pool, modules, self.problem, self.toolchain, learner.fast_policy(),
                                    self.baselines, tracker, book, self.folder.iteration_trajectories(iteration),
                                    iteration=iteration, seed=seed, config=config)
        if figures.set_aside:
            self.folder.write_failed_modules(book.set_aside)
        record = {"iteration": iteration, "algorithm": "ppo", **figures.record(self.pool.workers)}
        if figures.steps:
            stats = learner.train(figures.shards, figures.steps, seed=seed)
            record.update(stats.losses)
            record.update({"seconds_train": stats.seconds, "train_batches": stats.batches,
                           "train_steps": stats.steps})
        else:
            record.update({"loss": None, "seconds_train": 0.0, "train_batches": 0, "train_steps": 0})
        line = (f"iteration {iteration}/{config.iterations}: {figures.modules_ok}/{figures.modules} ok, "
                f"{figures.modules_failed} failed, {figures.modules_cancelled} cancelled, "
                f"reward {_fmt(record['mean_reward'], '+.4f')}, ratio {_fmt(record['total_ratio'], '.4f')}, "
                f"{figures.decisions:,} decisions, collect {figures.seconds_collect:.1f} s "
                f"(jobs: compile {figures.seconds_compile:.1f} s, policy {figures.seconds_policy:.1f} s), "
                f"train {record['seconds_train']:.1f} s, "
                f"{_fmt(record['decisions_per_second_per_worker'], '.0f')} decisions/s/worker")
        self._finish_iteration(learner, iteration, record, line,
                               {"modules": book.to_json(), "rewards": tracker.to_json()})

    # ---- ES --------------------------------------------------------------------------------------------
    def _run_es(self, state: dict | None, actor) -> TrainSummary:
        from compiler_opt.es.learner import ESLearner

        if state is None:
            state = self._begin_online({})
        learner = ESLearner(self.spec, self.vocab, self.network, self.learner_config, actor=actor)
        done = self._restore(learner, state)
        book = ModuleBook.from_json(state.get("modules", {}))
        return self._iterate(learner, done, "train es", "step",
                             lambda iteration: self._es_step(learner, iteration, book))

    def _es_step(self, learner, iteration: int, book: ModuleBook) -> None:
        from compiler_opt.es.evaluation import evaluate_step
        from compiler_opt.es.learner import step_seeds

        es = learner.config
        modules = self._sample_training(book, es.modules_per_perturbation, self.seed * 1_000_003 + iteration)
        seeds = step_seeds(self.seed, iteration, es.perturbations)
        scores = evaluate_step(self.pool, learner.fast_policy(), seeds, es.noise_scale, modules, self.problem,
                               self.toolchain, self.baselines, book, iteration=iteration, config=self.config,
                               evaluate_center=es.evaluate_center)
        if scores.set_aside:
            self.folder.write_failed_modules(book.set_aside)
        record = {"iteration": iteration, "algorithm": "es", **scores.record(self.pool.workers, len(modules))}
        began = time.monotonic()
        if scores.pair_scores:
            record.update(learner.update(seeds, scores.pair_scores))
        else:
            record.update({"gradient_norm": None, "update_norm": 0.0, "pairs_in_update": 0})
        record["seconds_train"] = time.monotonic() - began
        line = (f"step {iteration}/{self.config.iterations}: {record['pairs_used']}/{es.perturbations} pairs "
                f"({scores.jobs_ok}/{scores.jobs} compiles ok, {scores.jobs_failed} failed, "
                f"{scores.jobs_cancelled} cancelled) on {len(modules)} modules, "
                f"reward {_fmt(record['mean_reward'], '+.4f')} (perturbed best "
                f"{_fmt(record['best_perturbed_reward'], '+.4f')}), ratio {_fmt(record['total_ratio'], '.4f')}, "
                f"collect {scores.seconds_collect:.1f} s (jobs: compile {scores.seconds_compile:.1f} s, "
                f"policy {scores.seconds_policy:.1f} s), update {record['seconds_train']:.2f} s")
        self._finish_iteration(learner, iteration, record, line, {"modules": book.to_json()})

    # ---- BC --------------------------------------------------------------------------------------------
    def _run_bc(self, state: dict | None, actor) -> TrainSummary:
        from compiler_opt.rl.bc import BCLearner, agreement

        config = self.config
        if self.problem.default_replay() is None:
            raise MlgoError(f"problem {self.problem.name} cannot replay the compiler's own decisions through the "
                            "channel, so there are no labels to clone; train it with --algorithm ppo")
        fit, holdout = self.folder.trajectories / "labels" / "fit", self.folder.trajectories / "labels" / "holdout"
        if state is None:
            labels = self._collect_labels(fit, holdout)
            state = {"iteration": 0, "checkpoint": None, "labels": labels}
            self.folder.write_state(state)
        labels = state["labels"]
        learner = BCLearner(self.spec, self.vocab, self.network, actor=actor, config=self.learner_config)
        done = self._restore(learner, state)
        holdout_files = [str(p) for p in sorted(holdout.glob("*.tfrecord"))]
        fit_files = [str(p) for p in sorted(fit.glob("*.tfrecord"))]
        def epoch(number: int) -> None:
            stats = learner.train_epoch(fit_files, labels["fit_steps"], seed=self.seed * 1_000_003 + number)
            record = {"iteration": number, "algorithm": "bc", "modules_ok": labels["modules_ok"],
                      "modules_failed": labels["modules_failed"], "mean_reward": None, "total_ratio": None,
                      "policy_total": None, "baseline_total": None,
                      "seconds_collect": labels["seconds"] if number == 1 else 0.0,
                      "seconds_compile": labels["seconds_compile"] if number == 1 else 0.0,
                      "seconds_policy": labels["seconds_policy"] if number == 1 else 0.0,
                      "seconds_train": stats.seconds, "decisions": labels["fit_steps"], "loss": stats.loss,
                      "accuracy": stats.accuracy, "train_batches": stats.batches, "train_steps": stats.steps}
            if holdout_files:
                agree = agreement(learner.fast_policy(), holdout_files)
                record.update({"holdout_accuracy": agree.accuracy, "holdout_steps": agree.steps,
                               "holdout_label_inline_fraction": agree.labels.get(1, 0) / max(agree.steps, 1),
                               "holdout_policy_inline_fraction": agree.decisions.get(1, 0) / max(agree.steps, 1)})
            line = (f"iteration {number}/{config.iterations}: loss {stats.loss:.4f}, accuracy {stats.accuracy:.4f}, "
                    f"hold-out accuracy {_fmt(record.get('holdout_accuracy'), '.4f')} "
                    f"({labels['fit_steps']:,} training and {labels['holdout_steps']:,} hold-out decisions), "
                    f"train {stats.seconds:.1f} s")
            self._finish_iteration(learner, number, record, line, {"labels": labels})

        return self._iterate(learner, done, "train bc", "epoch", epoch)

    def _collect_labels(self, fit: Path, holdout: Path) -> dict:
        """Default labels of the training modules (and the vocabulary from them when the run has none)."""
        config = self.config
        shutil.rmtree(fit.parent, ignore_errors=True)
        modules = list(self.training.modules)
        if config.label_modules is not None and config.label_modules < len(modules):
            modules = self.training.sample(config.label_modules, self.seed)
        sample = ObservationSample(self.spec, DEFAULT_SAMPLE_SIZE, self.seed) if self.vocab is None else None
        figures = collect_labels(self.pool, modules, self.problem, self.toolchain, fit, holdout,
                                 holdout_fraction=config.holdout_fraction, timeout=config.compile_timeout,
                                 sample=sample)
        if figures.failures:
            book = ModuleBook(set_aside={name: {"error": error, "failures": 1, "iteration": 0}
                                         for name, error in figures.failures.items()})
            self.folder.write_failed_modules(book.set_aside)
        if not figures.fit_steps:
            raise MlgoError(f"none of the {len(modules)} training modules gave default labels "
                            f"({figures.modules_failed} failed, {figures.modules_without_decisions} made no decision); "
                            f"see {self.folder.failed_modules}")
        if sample is not None:
            observations = sample.observations()
            self.vocab = compute_vocab(observations, self.spec, sample_size=len(observations), seed=self.seed)
        self._save_vocab()
        return figures.to_json()


def _learner_config(algorithm: str):
    """The algorithm's learner settings from the parsed gin configuration (validated by their dataclass)."""
    from compiler_opt.es.config import es_config
    from compiler_opt.rl.bc import bc_config
    from compiler_opt.rl.ppo import ppo_config

    return {"ppo": ppo_config, "bc": bc_config, "es": es_config}[algorithm]()


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def progress_write(line: str) -> None:
    """Print a line to stdout without breaking a progress bar on stderr."""
    from tqdm import tqdm

    tqdm.write(line)
