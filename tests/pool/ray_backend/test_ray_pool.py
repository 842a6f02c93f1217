"""The Ray pool on a real two-node Ray cluster on loopback (separate `ray start` processes, one CPU each).

Fakes only inject faults (jobs that sleep, raise, exit; killed workers and nodes). The cluster is
started once for the module and always torn down, by the fixture's finalizer, without `ray stop`.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.pool.backends import make_pool
from compiler_opt.pool.base import DeadlinePolicy, Job, JobCancelled, JobException, JobStatus, JobTimeout, WorkerLost
from mlgo.flags import add_pool_flags, pool_from_args

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -c requirements.txt -e '.[ray]')")

from compiler_opt.pool.ray_backend import ClusterError, RayPool  # noqa: E402
from compiler_opt.pool.ray_backend.local_cluster import (  # noqa: E402
    LocalRayCluster,
    _free_port,
)
from tests.pool import jobs, ray_jobs  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
OBJECT_STORE = 80 << 20  # per node: the machine is small and shared


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ---- the factory and its flags (no cluster) ------------------------------------------------------


def test_flags_choose_the_ray_backend():
    parser = argparse.ArgumentParser()
    add_pool_flags(parser)
    args = parser.parse_args(["--backend", "ray", "--ray-address", "10.0.0.1:6379", "--ship-modules", "--workers", "8"])
    assert (args.backend, args.ray_address, args.ship_modules, args.workers) == ("ray", "10.0.0.1:6379", True, 8)
    assert parser.parse_args([]).backend == "local"


def test_ray_flags_without_the_ray_backend_are_refused():
    parser = argparse.ArgumentParser()
    add_pool_flags(parser)
    with pytest.raises(MlgoError, match="--backend ray"):
        pool_from_args(parser.parse_args(["--ray-address", "10.0.0.1:6379"]))
    with pytest.raises(MlgoError, match="--backend ray"):
        make_pool("local", ship_modules=True)


def test_an_address_nobody_answers_at_fails_fast_with_what_to_do():
    started = time.monotonic()
    with pytest.raises(ClusterError, match="ray start --head"):
        make_pool("ray", ray_address=f"127.0.0.1:{_free_port()}")
    with pytest.raises(ClusterError, match="HOST:PORT"):
        make_pool("ray", ray_address="head-without-port")
    assert time.monotonic() - started < 15.0


@pytest.mark.slow
def test_without_an_address_a_private_instance_runs_the_jobs_and_goes_away():
    """Runs before the cluster tests connect this process (one process talks to one cluster)."""
    before = set(Path(tempfile.gettempdir()).glob("mlgo-rayl-*"))
    token = Path.home() / ".ray" / "auth_token"
    had_token, auth_mode = token.exists(), os.environ.get("RAY_AUTH_MODE")
    with make_pool("ray", workers=2) as pool:
        results = pool.run_all([Job(f"j{i}", jobs.sleep_then, (0.1, i)) for i in range(4)])
        assert [results[f"j{i}"].value for i in range(4)] == [0, 1, 2, 3]
        assert subprocess.run(["false"]).returncode == 1  # Ray's subreaper option leaves this process's children alone
    assert not ray.is_initialized()
    assert subprocess.run(["false"]).returncode == 1
    assert set(Path(tempfile.gettempdir()).glob("mlgo-rayl-*")) == before
    assert token.exists() == had_token and os.environ.get("RAY_AUTH_MODE") == auth_mode  # nothing left behind


# ---- the cluster ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Head + one worker node, one CPU each; stopped (every process of it) however the tests end."""
    cluster = LocalRayCluster(2, cpus_per_node=1, object_store_bytes=OBJECT_STORE, env={"PYTHONPATH": str(ROOT)})
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def pool(cluster):
    with RayPool(cluster.address) as pool:
        yield pool


@pytest.mark.slow
def test_jobs_run_on_both_nodes_and_stream_back_as_they_finish(pool):
    assert pool.workers == 2
    started = time.monotonic()
    results = pool.run(
        [
            Job("slow", jobs.sleep_then, (3.0, "s")),
            Job("fast", jobs.sleep_then, (0.05, "f")),
            *[Job(f"j{i}", jobs.sleep_then, (0.3, i)) for i in range(4)],
        ]
    )
    first = next(results)
    assert first.key == "fast" and first.value == "f" and time.monotonic() - started < 2.5
    rest = {result.key: result for result in results}
    assert [rest[f"j{i}"].value for i in range(4)] == [0, 1, 2, 3]
    assert rest["slow"].ok and rest["slow"].seconds >= 3.0
    nodes = {result.worker.split()[0] for result in [first, *rest.values()]}
    assert len(nodes) == 2 and all(node.startswith("ray/") for node in nodes)


@pytest.mark.slow
def test_failures_are_typed_results_naming_the_job(pool):
    results = pool.run_all(
        [
            Job("bad", jobs.fail, ("broken module",)),
            Job("odd", jobs.fail_unpicklably),
            Job("ok", jobs.sleep_then, (0.0, 1)),
        ]
    )
    assert results["bad"].status is JobStatus.FAILED and isinstance(results["bad"].error, ValueError)
    assert "broken module" in str(results["bad"].error) and "ValueError" in results["bad"].traceback
    assert isinstance(results["odd"].error, JobException) and results["odd"].error.type_name == "_Unpicklable"
    assert results["ok"].value == 1


@pytest.mark.slow
def test_each_job_runs_in_a_temp_dir_of_its_own_that_goes_away(pool):
    results = pool.run_all([Job(f"t{i}", ray_jobs.temp_dir) for i in range(4)])
    folders = {result.value[0] for result in results.values()}
    assert len(folders) == 4
    for folder, tmpdir, existed in (result.value for result in results.values()):
        assert folder == tmpdir and existed and f"mlgo-ray-{pool._id}" in folder
    assert not any(os.path.exists(folder) for folder in folders)


@pytest.mark.slow
def test_jobs_running_at_once_on_one_machine_hold_different_cpus(pool, tmp_path):
    """The channel pins the compiler to its host's CPU; two unpinned Ray workers could share one for whole compiles."""
    jobs = [Job(f"c{i}", ray_jobs.cpus_once_all_started, (str(tmp_path), 2, f"c{i}")) for i in range(2)]
    results = pool.run_all(jobs)
    cpus = [results[f"c{i}"].value for i in range(2)]
    assert all(len(c) == 1 for c in cpus) and cpus[0] != cpus[1]


@pytest.mark.slow
def test_shared_objects_reach_jobs_and_released_ones_are_refused(pool, cluster):
    data = b"x" * (4 << 20)
    ref = pool.share(data)
    results = pool.run_all([Job(f"s{i}", jobs.shared_size, (ref,), {"extra": i}) for i in range(4)])
    assert [results[f"s{i}"].value[1] for i in range(4)] == [len(data) + i for i in range(4)]
    pool.release(ref)
    refused = pool.run_all([Job("late", jobs.shared_size, (ref,))])["late"]
    assert refused.status is JobStatus.FAILED and "does not hold" in str(refused.error)
    with RayPool(cluster.address) as other:
        foreign = other.share(1)
        assert pool.run_all([Job("foreign", jobs.shared_size, (foreign,))])["foreign"].status is JobStatus.FAILED


@pytest.mark.slow
def test_a_job_over_its_limit_is_killed_with_the_process_it_started(pool, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    results = pool.run_all(
        [
            Job("hang", jobs.spawn_grandchild_and_hang, (str(pid_file),), timeout=3.0),
            Job("quick", jobs.sleep_then, (0.1, "q")),
        ],
        timeout=60.0,
    )
    assert time.monotonic() - started < 10.0
    assert results["hang"].status is JobStatus.TIMEOUT and isinstance(results["hang"].error, JobTimeout)
    assert "3 s limit" in str(results["hang"].error) and results["quick"].value == "q"
    grandchild = int(pid_file.read_text())  # in a session of its own: the raylet (subreaper) kills it
    assert _wait_for(lambda: _gone(grandchild), 20.0), "the killed job's child process outlived it"


@pytest.mark.slow
def test_the_deadline_cancels_running_and_queued_stragglers(pool):
    batch = [
        Job("f1", jobs.sleep_then, (0.1, 1)),
        Job("f2", jobs.sleep_then, (0.1, 2)),
        *[Job(f"s{i}", jobs.sleep_then, (60.0, i)) for i in range(3)],
    ]
    started = time.monotonic()
    results = pool.run_all(batch, deadline=DeadlinePolicy(quorum=0.4, grace_seconds=1.0))
    assert time.monotonic() - started < 15.0
    assert results["f1"].ok and results["f2"].ok
    stragglers = [results[f"s{i}"] for i in range(3)]
    assert all(r.status is JobStatus.CANCELLED and isinstance(r.error, JobCancelled) for r in stragglers)
    reasons = sorted(str(r.error).rsplit("; ", 1)[1] for r in stragglers)
    assert reasons == ["killed", "killed", "not started"]
    after = pool.run_all([Job("after", jobs.sleep_then, (0.0, "fine"))])  # the killed workers are replaced
    assert after["after"].value == "fine"


@pytest.mark.slow
def test_abandoning_a_run_cancels_what_it_left_running(pool, tmp_path):
    results = pool.run(
        [
            Job("hang", ray_jobs.pid_then_sleep, (str(tmp_path), "hang", 60.0, 0)),
            Job("quick", jobs.sleep_then, (0.0, 1)),
        ]
    )
    assert next(results).key == "quick"
    assert _wait_for(lambda: any(tmp_path.iterdir()), 20.0)
    results.close()
    pid = int(next(tmp_path.iterdir()).read_text())
    assert _wait_for(lambda: _gone(pid), 20.0)


@pytest.mark.slow
def test_a_job_whose_worker_is_killed_is_retried(pool, tmp_path):
    killed = []

    def kill_first_attempt():
        if _wait_for(lambda: any(tmp_path.iterdir()), 20.0):
            pid = int(next(tmp_path.iterdir()).read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_first_attempt)
    killer.start()
    results = pool.run_all([Job("victim", ray_jobs.pid_then_sleep, (str(tmp_path), "victim", 4.0, "survived"))])
    killer.join()
    assert killed, "the job never started"
    assert results["victim"].ok and results["victim"].value == "survived"
    attempts = sorted(path.name for path in tmp_path.iterdir())
    assert len(attempts) == 2 and f"victim-{killed[0]}" in attempts


@pytest.mark.slow
def test_a_job_that_kills_every_worker_becomes_a_typed_failure(pool):
    results = pool.run_all(
        [Job("poison", jobs.die, (3,)), *[Job(f"ok{i}", jobs.sleep_then, (0.2, i)) for i in range(3)]]
    )
    poison = results["poison"]
    assert poison.status is JobStatus.LOST and isinstance(poison.error, WorkerLost)
    assert "3 attempts" in str(poison.error) and "not tried again" in str(poison.error)
    assert [results[f"ok{i}"].value for i in range(3)] == [0, 1, 2]


@pytest.mark.slow
def test_the_factory_connects_to_the_cluster_and_caps_workers(cluster):
    with make_pool("ray", workers=1, ray_address=cluster.address) as pool:
        assert isinstance(pool, RayPool) and pool.workers == 1
        assert pool.run_all([Job("one", jobs.sleep_then, (0.0, 1))])["one"].value == 1
        with pytest.raises(ClusterError, match="connected to the Ray cluster"):  # one cluster per process
            make_pool("ray", ray_address="127.0.0.1:1")


# ---- real compiles -------------------------------------------------------------------------------


def _random_actor(toolchain, module, seed: int = 0):
    """An untrained actor in numpy (seeded random weights) over fixed bucket boundaries."""
    from compiler_opt.collect.compile_job import problem_feature_spec
    from compiler_opt.policy.config import NetworkConfig
    from compiler_opt.policy.fast import FastPolicy
    from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms
    from compiler_opt.policy.vocab import Vocab

    spec = problem_feature_spec(toolchain, "inlining", module)
    vocab = Vocab({name: np.array([0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233]) for name in spec.names})
    config = NetworkConfig(fc_layer_params=(16, 8))
    sizes = [Preprocessor(feature_transforms(spec, vocab, config.identity)).width, *config.fc_layer_params, 2]
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, 1 / math.sqrt(a), (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(sizes, sizes[1:])]
    return FastPolicy(spec, vocab, config, weights)


@pytest.fixture(scope="module")
def corpus(small_sample):
    from compiler_opt.corpus.loading import load_corpus

    return load_corpus(small_sample)


@pytest.mark.slow
def test_shipped_modules_reach_the_job_as_local_copies(cluster, corpus, toolchain):
    from compiler_opt.collect.compile_job import CompileTask, compile_jobs

    modules = sorted(corpus, key=lambda m: m.size)[:3]
    tasks = [CompileTask(m, "inlining", str(toolchain.clang), "baseline", record=False) for m in modules]
    with RayPool(cluster.address, ship_modules=True) as shipping:
        seen = shipping.run_all([Job(t.module.name, ray_jobs.module_seen, (t,), files=t.module.files) for t in tasks])
        shipped = shipping.run_all(compile_jobs(tasks))
    with RayPool(cluster.address) as plain:
        by_path = plain.run_all(compile_jobs(tasks))
    for module in modules:
        path, digest, in_temp = seen[module.name].unwrap()
        assert path != str(module.bitcode) and in_temp
        assert digest == hashlib.sha256(module.bitcode.read_bytes()).hexdigest()
        assert shipped[module.name].unwrap().score.value == by_path[module.name].unwrap().score.value


@pytest.mark.slow
def test_a_training_iteration_and_an_eval_survive_a_node_killed_mid_run(cluster, corpus, toolchain, tmp_path):
    """A third node dies (its whole process tree) while it compiles; every module is still accounted for."""
    from compiler_opt.collect.baseline import BaselineCache
    from compiler_opt.collect.reward import RewardTracker
    from compiler_opt.collect.rollouts import ModuleBook, collect_iteration
    from compiler_opt.problems import get_problem
    from compiler_opt.report.evaluate import evaluate
    from compiler_opt.training.config import TrainerConfig

    problem = get_problem("inlining")
    modules = sorted(corpus, key=lambda m: m.name)[:10]
    policy = _random_actor(toolchain, modules[0])
    extra = cluster.add_node()
    died = threading.Event()

    def kill_node_once_it_compiles():
        def compiling():
            return any(_is_clang_under(extra.pid, pid) for pid in _clang_pids())

        if _wait_for(lambda: compiling() or died.is_set(), 120.0) and not died.is_set():
            cluster.kill_node(extra)
            died.set()

    killer = threading.Thread(target=kill_node_once_it_compiles, daemon=True)
    config = TrainerConfig(
        modules_per_iteration=len(modules), compile_timeout=120.0, deadline_quorum=1.0, deadline_grace_seconds=None
    )
    try:
        with RayPool(cluster.address) as pool:
            assert pool.workers == 3
            baselines = BaselineCache(tmp_path / "baselines", toolchain, problem)
            killer.start()
            figures = collect_iteration(
                pool,
                modules,
                problem,
                toolchain,
                policy,
                baselines,
                RewardTracker(),
                ModuleBook(),
                tmp_path / "iteration",
                iteration=0,
                seed=1,
                settings=config,
            )
            killer.join()
            assert died.is_set(), "the extra node never compiled anything"
            assert figures.modules_failed == figures.modules_cancelled == 0
            assert figures.modules_ok + figures.modules_without_decisions == len(modules)
            report = evaluate(
                corpus, problem, policy, toolchain=toolchain, pool=pool, baselines=baselines, modules=modules[:4]
            )
    finally:
        died.set()
        if extra.alive():
            cluster.kill_node(extra)
    assert report["summary"]["modules"] == 4 and report["summary"]["failed"] == 0
    assert all(entry["ok"] for entry in report["modules"])


def _clang_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip().startswith("clang"):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _is_clang_under(root: int, pid: int) -> bool:
    """Whether `pid` descends from `root` (clang runs in a session of its own, but keeps its parent)."""
    while pid > 1:
        if pid == root:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


# ---- the version check (last: it adds a node that must not run other tests' jobs) -----------------


@pytest.mark.slow
def test_a_node_with_other_code_is_refused_by_name(cluster, tmp_path):
    """A node whose workers import an edited copy of the package. The driver runs in a process of its own,
    in a folder without the package, because Ray puts the driver's working folder first on every worker's path."""
    copy = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "compiler_opt", copy / "compiler_opt", ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "compiler_opt" / "corpus.py", "a") as stream:
        stream.write("\n# an edit made on one node only\n")
    odd = cluster.add_node(env={"PYTHONPATH": f"{copy}{os.pathsep}{ROOT}"})
    try:
        driver = subprocess.run(
            [sys.executable, "-c", f"from compiler_opt.pool.ray_backend import RayPool; RayPool({cluster.address!r})"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        cluster.kill_node(odd)
    assert "ClusterMismatch" in driver.stderr, driver.stderr[-3000:]
    message = driver.stderr[driver.stderr.index("ClusterMismatch") :]
    assert driver.returncode != 0, driver.stderr[-3000:]
    assert "code:" in message and "same clang" in message
    assert len([line for line in message.splitlines() if line.startswith("  node ")]) == 1  # only the odd one
