"""A run before its first iteration, fresh or resumed: what the learners work with (`Run`).

`open_run` reads the configuration (a new run: the problem's gin file for the
algorithm, then the user's files and bindings; a resumed run: the text stored
in config.json, after checking that the run is the one asked for and was
trained with the same compiler and the same `profiles` choice), applies the
corpus's measured profiles when asked (`compiler_opt.corpus.profiles`: every
compile of the run, its baselines and linked sizes included, then uses them),
splits the corpus and finds the compiler and the baseline cache.
`prepare_policy` makes or reads back the policy's parts: feature spec (from
the compiler's header), vocabulary (given, a warm-start policy's, or read
back), network settings, and the warm-start actor; a new run's config.json is
written there.
"""

from __future__ import annotations

import datetime
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.collect.scoring import ScorerSource, scorer_source
from compiler_opt.collect.vocab_traces import collect_vocab
from compiler_opt.corpus.loading import Corpus, ModuleSpec, load_corpus
from compiler_opt.corpus.profiles import collect_profiles
from compiler_opt.corpus.splitting import MODULE_SPLIT
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.policy.config import NetworkConfig, network_config
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import Vocab
from compiler_opt.pool.base import WorkerPool
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.problems.policy_match import check_policy_problem
from compiler_opt.training.config import TrainerConfig, trainer_config
from compiler_opt.training.gin_config import default_gin_file, saved_gin_text
from compiler_opt.training.run_folder import RunFolder, RunFolderError

FORMAT_VERSION = 1
# Parse gin: (files, bindings) or a saved text; the operative text.
LoadGin = Callable[[Sequence[Path], Sequence[str], "str | None"], str]


class RunRequest(Protocol):
    """What a run is asked for (`compiler_opt.train.TrainOptions`): paths and explicit overrides of gin."""

    @property
    def problem(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def corpus(self) -> Path: ...
    @property
    def output(self) -> Path: ...
    @property
    def clang(self) -> str | None: ...
    @property
    def warmstart(self) -> Path | None: ...
    @property
    def vocab(self) -> Path | None: ...
    @property
    def iterations(self) -> int | None: ...
    @property
    def modules_per_iteration(self) -> int | None: ...
    @property
    def max_modules(self) -> int | None: ...
    @property
    def seed(self) -> int: ...
    @property
    def validation_fraction(self) -> float: ...
    @property
    def resume(self) -> bool: ...
    @property
    def max_seconds(self) -> float | None: ...
    @property
    def gin_files(self) -> tuple[Path, ...]: ...
    @property
    def gin_bindings(self) -> tuple[str, ...]: ...
    @property
    def baseline_cache(self) -> Path | None: ...
    @property
    def profiles(self) -> bool: ...


class Run:
    """One run's settings and shared parts: folder, compiler, problem, corpus split, baselines, policy parts."""

    # Set by `open_run` (`corpus`: the whole corpus, with its profiles when the run uses them):
    corpus: Corpus
    training: Corpus
    validation: Corpus
    baselines: BaselineCache
    # Set by `prepare_policy` (the vocabulary may come later, from the learner or from default traces):
    spec: FeatureSpec
    network: NetworkConfig
    vocab: Vocab | None = None

    def __init__(
        self, options: RunRequest, pool: WorkerPool, folder: RunFolder, toolchain: Toolchain, problem: Problem
    ) -> None:
        self.options, self.pool, self.folder, self.toolchain, self.problem = options, pool, folder, toolchain, problem
        self.gin_text = ""
        self.config = TrainerConfig()
        self.seed = options.seed
        self.validation_fraction = options.validation_fraction
        self.split_method: str | None = None  # the corpus's own; a resumed run's stored one
        self.profiles = options.profiles  # a resumed run's must equal its stored choice (`_check_resumable`)
        self.saved_config: dict | None = None
        self.warmstart, self.vocab_source = options.warmstart, options.vocab

    def iteration_seed(self, iteration: int) -> int:
        """The seed of iteration `iteration`'s sampling: a pure function of the run's seed and the iteration."""
        return self.seed * 1_000_003 + iteration

    def sample_training(self, book: ModuleBook, count: int, seed: int) -> Sequence[ModuleSpec]:
        """A seeded, size-stratified sample of `count` training modules that are not set aside."""
        eligible = book.eligible(self.training.modules)
        if not eligible:
            raise MlgoError(
                f"every training module was set aside (see {self.folder.failed_modules}); fix the "
                "corpus or the compiler and start a new run"
            )
        return self.training.subset(eligible).sample(min(count, len(eligible)), seed)

    def scoring(self) -> ScorerSource:
        """What values this run's compiles: `trainer_config.reward_size`'s scorer source (the linked one keeps
        its cache beside the baselines)."""
        return scorer_source(
            self.config.reward_size,
            self.problem.name,
            corpus=self.corpus,
            toolchain=self.toolchain,
            baselines=self.baselines.folder,
        )

    def default_vocab(self) -> Vocab:
        """A vocabulary from default traces of a seeded sample of training modules."""
        modules = self.training.sample(min(self.config.vocab_modules, len(self.training)), self.seed)
        return collect_vocab(
            modules, self.problem, self.toolchain, self.pool, seed=self.seed, timeout=self.config.compile_timeout
        ).vocab

    def save_vocab(self) -> None:
        assert self.vocab is not None
        if self.folder.vocab.exists():
            shutil.rmtree(self.folder.vocab)
        self.vocab.save(self.folder.vocab)


def open_run(options: RunRequest, pool: WorkerPool, load_gin: LoadGin) -> Run:
    """The run `options` ask for, configured (see the module docstring); nothing is written yet."""
    folder = RunFolder(options.output)
    run = Run(options, pool, folder, find_toolchain(options.clang), get_problem(options.problem))
    if options.resume and folder.started():
        saved = folder.read_config()
        _check_resumable(run, saved)
        text = saved_gin_text(saved["gin"])
        if options.gin_files or options.gin_bindings:
            asked = load_gin(
                [default_gin_file(options.problem, options.algorithm), *options.gin_files], options.gin_bindings, None
            )
            if asked != text:
                raise MlgoError(
                    "--resume: the gin files and bindings given make another configuration than "
                    f"the one {folder.root} started with (config.json); resume without --gin_file "
                    "and --gin_bindings to use the run's own, or start a new run"
                )
        run.gin_text = load_gin((), (), text)
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved["trainer"].items()}
        base = TrainerConfig(**fields)
        run.seed = int(saved["seed"])
        run.validation_fraction = float(saved["validation_fraction"])
        run.split_method = saved.get("split", MODULE_SPLIT)  # runs from before library splits split by module
        run.saved_config = saved
        run.warmstart = None if saved.get("warmstart") is None else Path(saved["warmstart"])
        run.vocab_source = None if saved.get("vocab") is None else Path(saved["vocab"])
    else:
        if options.resume:
            raise RunFolderError(f"--resume: {folder.root} holds no training run to resume (no config.json)")
        if folder.started():
            raise RunFolderError(
                f"{folder.root} already holds a training run; pass --resume to continue it, or choose another --output"
            )
        files = [default_gin_file(options.problem, options.algorithm), *options.gin_files]
        run.gin_text = load_gin(files, options.gin_bindings, None)
        base = trainer_config()
    run.config = base.with_overrides(
        iterations=options.iterations,
        modules_per_iteration=options.modules_per_iteration,
        label_modules=options.max_modules,
    )
    corpus = load_corpus(options.corpus)
    if run.profiles:
        found = collect_profiles(run.toolchain, corpus, timeout=run.config.compile_timeout)
        print(found.describe(), file=sys.stderr)
        corpus = found.apply(corpus)
    run.corpus = corpus
    run.split_method = run.split_method or corpus.split_method
    run.training, run.validation = corpus.split(run.validation_fraction, run.split_method)
    if run.config.languages:
        run.training = run.training.subset([spec for spec in run.training if spec.language in run.config.languages])
    if not len(run.training):
        raise MlgoError(
            f"the corpus {options.corpus} has no training modules with validation fraction "
            f"{run.validation_fraction}"
            + (f" in {', '.join(run.config.languages)}" if run.config.languages else "")
            + "; lower --validation-fraction"
            + (" or train other languages (trainer_config.languages)" if run.config.languages else "")
        )
    run.baselines = BaselineCache(options.baseline_cache or BaselineCache.shared_folder(), run.toolchain, run.problem)
    return run


def _check_resumable(run: Run, saved: Mapping) -> None:
    options, root = run.options, run.folder.root
    for key, value in (
        ("problem", options.problem),
        ("algorithm", options.algorithm),
        ("corpus", str(Path(options.corpus).resolve())),
    ):
        if saved.get(key) != value:
            raise RunFolderError(
                f"--resume: {root} is a {saved.get('algorithm')} run of problem "
                f"{saved.get('problem')} on corpus {saved.get('corpus')}, not {key} {value}; "
                "resume it with its own settings"
            )
    started = bool(saved.get("profiles", False))  # runs from before --profiles had none
    if started != options.profiles:
        how = "with --profiles" if started else "without --profiles"
        raise RunFolderError(
            f'--resume: {root} started {how} (config.json\'s "profiles" is {str(started).lower()}); '
            f"resume it {how}, or start a new run"
        )
    compiler = saved.get("compiler", {})
    if compiler.get("identity") != run.toolchain.identity:
        raise RunFolderError(
            f"--resume: {root} was trained with {compiler.get('clang')} ({compiler.get('identity')}), "
            f"not {run.toolchain.clang}; resume with the same compiler (--clang)"
        )


def _new_config(run: Run) -> dict:
    options = run.options
    return {
        "format": FORMAT_VERSION,
        "problem": options.problem,
        "algorithm": options.algorithm,
        "corpus": str(Path(options.corpus).resolve()),
        "compiler": {"clang": str(run.toolchain.clang), "identity": run.toolchain.identity},
        "seed": run.seed,
        "validation_fraction": run.validation_fraction,
        "split": run.split_method,
        "profiles": run.profiles,
        "modules": {"training": len(run.training), "validation": len(run.validation)},
        "warmstart": None if run.warmstart is None else str(Path(run.warmstart).resolve()),
        "vocab": None if run.vocab_source is None else str(Path(run.vocab_source).resolve()),
        "trainer": run.config.to_json(),
        "network": run.network.to_json(),
        "gin": run.gin_text,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def prepare_policy(run: Run, state: Mapping | None) -> Any:
    """Spec, vocabulary and network settings (read back, or made); the warm-start actor when there is one."""
    from compiler_opt.policy.saved import load_actor_network

    folder = run.folder
    if state is not None:
        assert run.saved_config is not None
        run.spec = FeatureSpec.load(folder.root)
        run.vocab = Vocab.load(folder.vocab, run.spec.names)
        run.network = NetworkConfig.from_json(run.saved_config["network"])
        if int(state["iteration"]) == 0 and run.warmstart is not None:  # no checkpoint yet to restore
            return load_actor_network(run.warmstart)[0]
        return None
    run.spec = problem_feature_spec(run.toolchain, run.problem, run.training.modules)
    actor = None
    run.vocab = None
    if run.warmstart is not None:
        if run.vocab_source is not None:
            raise MlgoError("--warmstart brings the policy's own vocabulary; drop --vocab")
        actor, spec, run.vocab, run.network = load_actor_network(run.warmstart)
        check_policy_problem(spec, run.problem)
        if (spec.features, spec.advice) != (run.spec.features, run.spec.advice):
            raise MlgoError(
                f"the warm-start policy {run.warmstart} reads other features than "
                f"{run.toolchain.clang} sends for problem {run.problem.name}; train it with this "
                "compiler, or start without --warmstart"
            )
    else:
        run.network = network_config()
    if run.vocab_source is not None:
        run.vocab = Vocab.load(run.vocab_source, run.spec.names)
    if run.saved_config is None:
        folder.create(_new_config(run))
        run.saved_config = folder.read_config()
    run.spec.save(folder.root)
    return actor
