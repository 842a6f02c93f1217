"""The Ray backend of `WorkerPool`: every job is a Ray task on one CPU of a cluster.

    with RayPool("10.0.0.1:6379") as pool:            # or None: a private local Ray instance
        ref = pool.share(policy)                      # ray.put, once per iteration
        for result in pool.run(compile_jobs(tasks, ref), timeout=..., deadline=...):
            ...

What it keeps from the interface (see `compiler_opt.pool.base`):

- At most `workers` jobs are out at once (the cluster's CPUs, or fewer when
  asked), so a job starts when it is submitted: its time limit counts from
  then, and jobs still queued when the iteration's deadline expires are
  reported as "not started". Results are fetched with `ray.wait` and yielded
  as they finish; the queue is refilled before the caller sees them.
- `share(obj)` is `ray.put(obj)`: a job receives the object through a
  top-level ObjectRef argument, so each node fetches it once from the
  object store instead of every job carrying it. `release` drops the ref.
- A job over its limit, a straggler cancelled by the deadline, or a job of
  an abandoned run is stopped with `ray.cancel(force=True)`, which kills its
  worker process. The compiler it started runs in a session of its own, so
  nodes must be started with
  `RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper=true`
  (docs/distributed.md; a private local instance gets it from this module):
  the raylet then kills a dead worker's orphans within seconds.
- Job failures are typed results as in the local pool (the job's own
  exception when it pickles, `JobTimeout`, `JobCancelled`). A worker or node
  that dies under a job (crash, out of memory, node lost, result lost) gets
  the job resubmitted, up to `max_attempts` in all; a job that loses its
  worker on every attempt becomes `WorkerLost` naming each failure, and the
  run goes on.

Module files: jobs name corpus modules by path (`ModuleSpec.bitcode`,
`CompileCommand.bitcode`), which is right when every node mounts the corpus
at the same path. With `ship_modules=True` the pool reads the files of each
`ModuleSpec` or `CompileCommand` found in a job's top-level arguments, or in
a field of a dataclass passed as one (a `CompileTask.module`), puts their
bytes (bitcode, ThinLTO index) into the object store once (kept in a bounded
cache across runs), and the task writes the bytes into its own temp dir and
hands the job a copy of the module pointing there. Job functions need no
change either way.

Every task holds a CPU of its machine for its duration (a lock file per
CPU in the pool's folder there; its thread pinned to that CPU, so the
compiler and the channel's host share it as in the local pool; unpinned
when all are held) and runs with its own temp dir (`TMPDIR`,
`tempfile.tempdir`) under `<node temp>/mlgo-ray-<pool id>/`; it is removed
when the task ends, a later task on the node removes those of killed
tasks, and `close()` removes the pool's folder on every node.

At start (and for nodes that joined since, at each run) every node with
CPUs runs a small check; all must report the driver's Python version, mlgo
version and code digest, and the same clang (version line and binary hash)
at the path the jobs use, else `ClusterMismatch` names the nodes and what
differs.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import logging
import os
import pickle
import platform
import shutil
import signal
import socket
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from compiler_opt.pool.cpu_claim import claimed_cpu
from compiler_opt.pool.local import _portable_error
from compiler_opt.pool.base import (
    DeadlineClock,
    DeadlinePolicy,
    Job,
    JobCancelled,
    JobException,
    JobResult,
    JobStatus,
    JobTimeout,
    SharedRef,
    WorkerLost,
    WorkerPool,
)
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.cmdline import CompileCommand

__all__ = ["ClusterError", "ClusterMismatch", "RayPool", "RayUnavailable", "node_facts"]

SUBREAPER_VARIABLE = "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper"
_CHECK_SECONDS = 120.0
_CONNECT_SECONDS = 10.0
_AUTH_VARIABLES = ("RAY_AUTH_MODE",)
_CLEANUP_SECONDS = 10.0
_SHIP_CACHE_BYTES = 1 << 30
_TASK_ROOT_PREFIX = "mlgo-ray-"
# What names a module by its files, and the attributes holding the paths (None when absent).
_MODULES = (ModuleSpec, CompileCommand)
_MODULE_FILES = ("bitcode", "thinlto_index")


class RayUnavailable(MlgoError):
    """The `ray` package is not installed."""


class ClusterError(MlgoError):
    """The Ray cluster cannot be reached or cannot run jobs."""


class ClusterMismatch(ClusterError):
    """Some node runs another clang, mlgo or Python than the driver."""


def _ray():
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable(
            "the Ray backend needs the `ray` package: install the extra with `pip install -c requirements.txt "
            "-e '.[ray]'` in a checkout (or `pip install 'mlgo[ray]'`), on the driver and every node"
        ) from error
    return ray


# ---- the connection, shared by the pools of one process ------------------------------------------


class _Connection:
    users = 0
    owned = False
    temp: str | None = None  # the session folder of a private instance, removed after it stops
    saved_environment: dict[str, str | None] = {}  # what the private instance's auth setting replaced


def _connect(address: str | None) -> None:
    ray = _ray()
    if ray.is_initialized():  # one process talks to one cluster: its pools share the connection
        current = ray.get_runtime_context().gcs_address
        if address not in (None, "auto") and current.rpartition(":")[2] != address.rpartition(":")[2]:
            raise ClusterError(f"this process is connected to the Ray cluster at {current} already; close its "
                               f"pools before using the one at {address}")
        _Connection.users += 1
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address is None:
        # A private instance on this machine: this process starts its raylet, so it sets how orphans die,
        # and its logs and sockets go to a folder of its own (short: socket paths have a length limit).
        # Unless the user chose otherwise, no token: Ray would write one to ~/.ray/auth_token, which every
        # later `ray start` and driver on the machine then picks up (`ray start`'s own default is no token).
        _Connection.temp = tempfile.mkdtemp(prefix="mlgo-rayl-")
        _Connection.saved_environment = {name: os.environ.get(name) for name in _AUTH_VARIABLES}
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        options.update(address="local", include_dashboard=False, _temp_dir=_Connection.temp,
                       _system_config={"kill_child_processes_on_worker_exit_with_raylet_subreaper": True})
    else:
        _check_reachable(address)
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        _forget_private_instance()
        raise ClusterError(
            f"cannot reach a Ray cluster at {address!r}: {error}. Start one with `ray start --head` on the head "
            "node and `ray start --address=HEAD:PORT` on the others (docs/distributed.md), then pass the head's "
            "address to --ray-address"
        ) from error
    _restore_child_exit_status()
    _Connection.users += 1
    _Connection.owned = True


def _restore_child_exit_status() -> None:
    """Undo Ray's SIGCHLD-ignore in this process.

    A driver whose Ray config has the subreaper option (a private instance
    started with it, or the variable exported in the driver's environment)
    ignores SIGCHLD; the kernel then reaps every child at once, and every
    subprocess's exit status reads 0 here (clang failures would pass
    unnoticed). The raylet keeps the option; this process goes back to the
    default disposition.
    """
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    except ValueError:  # not the main thread: cannot change signal handling there
        pass


def _check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nothing listens on (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray-address {address!r} is not HOST:PORT (the head's address as `ray start --head` "
                           "printed it, e.g. 10.0.0.1:6379), nor `auto` (the cluster this machine is a node of)")
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_SECONDS).close()
    except OSError as error:
        raise ClusterError(
            f"no Ray head node answers at {address} ({error}). Start one with `ray start --head --port={port}` "
            "(docs/distributed.md), or pass the address it printed to --ray-address") from error


def _disconnect() -> None:
    _Connection.users = max(_Connection.users - 1, 0)
    if _Connection.users == 0 and _Connection.owned:
        _Connection.owned = False
        _ray().shutdown()
        _forget_private_instance()


def _forget_private_instance() -> None:
    """Remove a private instance's folder and put back the environment it changed."""
    if _Connection.temp is not None:
        shutil.rmtree(_Connection.temp, ignore_errors=True)
        _Connection.temp = None
    for name, value in _Connection.saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _Connection.saved_environment = {}


# ---- what travels with a task ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Ship:
    """Value `index` of the task is a module (`field` None) or holds one in attribute `field`; `files`
    pairs each of the module's file attributes with the index of the value holding that file's bytes."""

    index: int
    field: str | None
    files: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class _Header:
    key: str
    pool: str
    args: int
    kwargs: tuple[str, ...]
    ships: tuple[_Ship, ...] = ()


@dataclass
class _Flight:
    job: Job
    attempt: int
    submitted: float
    deadline: float | None


class RayPool(WorkerPool):
    """Jobs as Ray tasks on the cluster at `address` (None: a private Ray instance on this machine, or the
    cluster this process is connected to already; `auto`: the cluster this machine is a node of).

    `workers`: at most this many jobs at once (default: every CPU of the
    cluster). `ship_modules`: send module bytes instead of paths (module
    docstring). `clang`: the compiler the jobs use, checked on every node
    (default: the one `find_toolchain` picks here). `max_attempts`: tries of
    a job whose worker dies. `check_nodes=False` skips the node check.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, *, ship_modules: bool = False,
                 clang: str | os.PathLike | None = None, max_attempts: int = 3, check_nodes: bool = True,
                 ship_cache_bytes: int = _SHIP_CACHE_BYTES) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {workers}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        ray = _ray()
        self._requested = workers
        self._ship_modules = ship_modules
        self._max_attempts = max_attempts
        self._ship_cache_bytes = ship_cache_bytes
        self._id = uuid.uuid4().hex[:16]
        self._shared: dict[int, Any] = {}
        self._next_shared = itertools.count()
        self._shipped: collections.OrderedDict[tuple, tuple[Any, int]] = collections.OrderedDict()
        self._shipped_bytes = 0
        self._checked: set[str] = set()
        self._running = False
        self._closed = True
        _connect(address)
        self._closed = False
        try:
            self._execute = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(_execute)
            self._clang = self._reference_clang(clang) if check_nodes else None
            self._reference = node_facts(self._clang) if check_nodes else None
            self._check_new_nodes()
            self._slots = self._capacity()
        except BaseException:
            self.close()
            raise

    # ---- the interface ---------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._slots

    def share(self, obj: Any) -> SharedRef:
        self._check_open()
        ref = SharedRef(self._id, next(self._next_shared))
        self._shared[ref.id] = _ray().put(obj)
        return ref

    def release(self, ref: SharedRef) -> None:
        if ref.pool == self._id:
            self._shared.pop(ref.id, None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shared.clear()
        self._shipped.clear()
        try:
            self._remove_task_dirs()
        finally:
            _disconnect()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")

    # ---- nodes -----------------------------------------------------------------------------------------

    @staticmethod
    def _reference_clang(clang: str | os.PathLike | None) -> str:
        from compiler_opt.llvm.toolchain import find_toolchain

        return str(find_toolchain(clang).clang)

    def _nodes(self) -> list[dict]:
        """The live nodes that can run jobs (have CPUs)."""
        return [node for node in _ray().nodes() if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0]

    def _capacity(self) -> int:
        cpus = int(_ray().cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise ClusterError("the Ray cluster has no CPUs to run jobs on: start worker nodes with "
                               "`ray start --address=HEAD:PORT` (a head started with --num-cpus=0 runs no jobs)")
        return cpus if self._requested is None else min(self._requested, cpus)

    def _check_new_nodes(self) -> None:
        """Every node not checked yet must match the driver (see the module docstring)."""
        if self._reference is None:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = _ray()
        nodes = [node for node in self._nodes() if node["NodeID"] not in self._checked]
        if not nodes:
            return
        facts = ray.remote(num_cpus=0, max_retries=1)(node_facts)
        refs = [facts.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
                .remote(self._clang) for node in nodes]
        try:
            answers = ray.get(refs, timeout=_CHECK_SECONDS)
        except ray.exceptions.GetTimeoutError as error:
            raise ClusterError(f"some of the Ray nodes {', '.join(_node_name(n) for n in nodes)} did not answer the "
                               f"version check within {_CHECK_SECONDS:g} s; see `ray status`") from error
        except ray.exceptions.RayError as error:
            raise ClusterError(f"the version check failed on a Ray node: {_first_line(error)}") from error
        problems = []
        for node, answer in zip(nodes, answers):
            differences = [f"{name}: {self._reference.get(name)!r} here, {answer.get(name)!r} there"
                           for name in sorted(self._reference) if name != "host"
                           and answer.get(name) != self._reference.get(name)]
            if differences:
                problems.append(f"node {_node_name(node)} ({answer.get('host')}): " + "; ".join(differences))
        if problems:
            raise ClusterMismatch(
                "these Ray nodes differ from this machine:\n  " + "\n  ".join(problems) + "\nEvery node needs the "
                f"same clang at {self._clang}, the same mlgo checkout or version and the same Python "
                "(docs/distributed.md); fix or remove those nodes (`ray stop` on them) and start again")
        self._checked.update(node["NodeID"] for node in nodes)

    def _remove_task_dirs(self) -> None:
        """Remove this pool's task folder on every node (best effort, bounded in time)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = _ray()
        try:
            cleanup = ray.remote(num_cpus=0, max_retries=0)(_remove_pool_dir)
            refs = [cleanup.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
                    .remote(self._id) for node in self._nodes()]
            ray.wait(refs, num_returns=len(refs), timeout=_CLEANUP_SECONDS)
        except Exception:  # noqa: BLE001 - a node going away while the pool closes is no error
            pass

    # ---- a run ---------------------------------------------------------------------------------------

    def _run(self, jobs: list[Job], timeout: float | None, deadline: DeadlinePolicy | None) -> Iterator[JobResult]:
        self._check_open()
        if self._running:
            raise RuntimeError("a RayPool runs one batch at a time")
        self._running = True
        self._check_new_nodes()
        self._slots = self._capacity()
        pending: collections.deque[tuple[Job, int]] = collections.deque((job, 1) for job in jobs)
        flights: dict[Any, _Flight] = {}
        failures: dict[str, list[str]] = collections.defaultdict(list)
        clock = DeadlineClock(deadline, len(jobs))
        left = len(jobs)
        try:
            while left:
                if self._closed:
                    raise RuntimeError("the pool was closed during a run")
                now = time.monotonic()
                ready = self._time_out(flights, timeout, now)
                if clock.expired(now):
                    ready += self._cancel_all(flights, pending, now, "the iteration's deadline expired")
                    left -= len(ready)
                    yield from ready
                    break
                ready += self._fill(pending, flights, timeout)
                if not ready:
                    ready = self._wait(flights, pending, failures, self._wait_seconds(flights, clock))
                ready += self._fill(pending, flights, timeout)
                for result in ready:
                    clock.note(result)
                left -= len(ready)
                yield from ready
        finally:
            ray = _ray()
            for ref in flights:
                _cancel(ray, ref)
            flights.clear()
            self._running = False

    def _fill(self, pending, flights: dict, timeout: float | None) -> list[JobResult]:
        """Submit queued jobs while fewer than `workers` are out; the results of jobs that could not be sent."""
        results = []
        while pending and len(flights) < self._slots:
            job, attempt = pending.popleft()
            result = self._submit(job, attempt, timeout, flights)
            if result is not None:
                results.append(result)
        return results

    def _submit(self, job: Job, attempt: int, timeout: float | None, flights: dict) -> JobResult | None:
        values = [*job.args, *job.kwargs.values()]
        for index, value in enumerate(values):
            if isinstance(value, SharedRef):
                if value.pool != self._id or value.id not in self._shared:
                    return JobResult(job.key, JobStatus.FAILED, error=JobException(
                        job.key, "the job uses a shared object this pool does not hold (released, or another pool's)"))
                values[index] = self._shared[value.id]
        try:
            ships = self._ship(values) if self._ship_modules else ()
        except OSError as error:
            return JobResult(job.key, JobStatus.FAILED, error=JobException(
                job.key, f"cannot read a module file to ship: {error}", type(error).__name__))
        header = _Header(job.key, self._id, len(job.args), tuple(job.kwargs), ships)
        try:
            ref = self._execute.remote(header, job.fn, *values)
        except Exception as error:  # noqa: BLE001 - any serialization failure is the job's
            return JobResult(job.key, JobStatus.FAILED, error=JobException(
                job.key, f"the job cannot be pickled: {type(error).__name__}: {_first_line(error)}",
                type(error).__name__))
        limit = job.timeout if job.timeout is not None else timeout
        now = time.monotonic()
        flights[ref] = _Flight(job, attempt, now, None if limit is None else now + limit)
        return None

    def _ship(self, values: list) -> tuple[_Ship, ...]:
        """Append the files' bytes of every module in `values` (top level, or one dataclass field deep)."""
        ships = []
        for index in range(len(values)):
            value = values[index]
            if isinstance(value, _MODULES):
                found = [(None, value)]
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                found = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)
                         if isinstance(getattr(value, f.name), _MODULES)]
            else:
                continue
            for name, module in found:
                files = []
                for attribute in _MODULE_FILES:
                    if getattr(module, attribute) is not None:
                        values.append(self._module_bytes(getattr(module, attribute)))
                        files.append((attribute, len(values) - 1))
                ships.append(_Ship(index, name, tuple(files)))
        return tuple(ships)

    def _module_bytes(self, path: Path):
        """An ObjectRef of the file's bytes, from the cache while the file is unchanged."""
        stat = os.stat(path)
        key = (os.fspath(path), stat.st_size, stat.st_mtime_ns)
        if key in self._shipped:
            self._shipped.move_to_end(key)
            return self._shipped[key][0]
        ref = _ray().put(Path(path).read_bytes())
        self._shipped[key] = (ref, stat.st_size)
        self._shipped_bytes += stat.st_size
        while self._shipped_bytes > self._ship_cache_bytes and len(self._shipped) > 1:
            _, (_, size) = self._shipped.popitem(last=False)
            self._shipped_bytes -= size
        return ref

    def _wait_seconds(self, flights: dict, clock: DeadlineClock) -> float | None:
        now = time.monotonic()
        limits = [flight.deadline - now for flight in flights.values() if flight.deadline is not None]
        left = clock.seconds_left(now)
        if left is not None:
            limits.append(left)
        return max(min(limits), 0.0) if limits else None

    def _wait(self, flights: dict, pending, failures: dict, timeout_s: float | None) -> list[JobResult]:
        """Results of the jobs that finished within `timeout_s`; lost workers' jobs go back to the queue."""
        if not flights:
            return []
        ray = _ray()
        done, rest = ray.wait(list(flights), num_returns=1, timeout=timeout_s)
        if done and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        results = []
        lost = False
        for ref in done:
            flight = flights.pop(ref)
            job = flight.job
            seconds = time.monotonic() - flight.submitted
            try:
                data = ray.get(ref)
            except ray.exceptions.TaskCancelledError:
                results.append(JobResult(job.key, JobStatus.CANCELLED, error=JobCancelled(
                    job.key, "its Ray task was cancelled outside this pool"), seconds=seconds))
                continue
            except ray.exceptions.RayTaskError as error:  # the job never ran: its arguments did not load there
                cause = error.cause if isinstance(error.cause, BaseException) else error
                results.append(JobResult(job.key, JobStatus.FAILED, error=_portable_error(job.key, cause),
                                         seconds=seconds, traceback=str(error)))
                continue
            except ray.exceptions.RayError as error:  # worker or node died, result lost, out of memory
                lost = True
                failures[job.key].append(f"{type(error).__name__}: {_first_line(error)}")
                if flight.attempt < self._max_attempts:
                    pending.appendleft((job, flight.attempt + 1))
                    continue
                reasons = collections.Counter(failures.pop(job.key))
                results.append(JobResult(job.key, JobStatus.LOST, error=WorkerLost(
                    job.key, f"its worker died on each of {flight.attempt} attempts, so it is not tried again: "
                    + "; ".join(f"{count} x {reason}" for reason, count in reasons.items())), seconds=seconds))
                continue
            results.append(_result(job.key, data))
        if lost:  # a node may be gone: do not keep more jobs out than there are CPUs left
            try:
                self._slots = self._capacity()
            except ClusterError:
                self._slots = 1
        return results

    def _time_out(self, flights: dict, timeout: float | None, now: float) -> list[JobResult]:
        results = []
        ray = _ray()
        for ref, flight in list(flights.items()):
            if flight.deadline is not None and now >= flight.deadline:
                del flights[ref]
                _cancel(ray, ref)
                limit = flight.job.timeout if flight.job.timeout is not None else timeout
                results.append(JobResult(flight.job.key, JobStatus.TIMEOUT, error=JobTimeout(
                    flight.job.key, f"job ran past its {limit:g} s limit; its Ray task was cancelled (worker killed)"),
                    seconds=now - flight.submitted))
        return results

    def _cancel_all(self, flights: dict, pending, now: float, why: str) -> list[JobResult]:
        results = []
        ray = _ray()
        for ref, flight in list(flights.items()):
            _cancel(ray, ref)
            results.append(JobResult(flight.job.key, JobStatus.CANCELLED, error=JobCancelled(
                flight.job.key, f"{why}; killed"), seconds=now - flight.submitted))
        flights.clear()
        while pending:
            job, _ = pending.popleft()
            results.append(JobResult(job.key, JobStatus.CANCELLED, error=JobCancelled(job.key, f"{why}; not started")))
        return results


def _cancel(ray, ref) -> None:
    try:
        ray.cancel(ref, force=True)
    except Exception:  # noqa: BLE001 - the task may have finished or its node gone
        pass


def _result(key: str, data: bytes) -> JobResult:
    try:
        ok, value, seconds, trace, worker = pickle.loads(data)
    except Exception as error:  # noqa: BLE001 - a result that does not unpickle here
        return JobResult(key, JobStatus.FAILED, error=JobException(
            key, f"the job's result cannot be unpickled: {type(error).__name__}: {error}", type(error).__name__))
    if ok:
        return JobResult(key, JobStatus.OK, value=value, seconds=seconds, worker=worker)
    return JobResult(key, JobStatus.FAILED, error=value, seconds=seconds, worker=worker, traceback=trace)


def _node_name(node: dict) -> str:
    return f"{node['NodeID'][:8]} at {node.get('NodeManagerAddress', '?')}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ---- on the nodes ------------------------------------------------------------------------------------


def node_facts(clang: str | None) -> dict[str, str]:
    """What must agree between the driver and every node: Python, mlgo, its code, and the clang at `clang`."""
    from compiler_opt.llvm.toolchain import find_toolchain

    facts = {"host": platform.node(), "python": platform.python_version(), "mlgo": _package_version(),
             "code": _code_digest()}
    if clang is not None:
        try:
            toolchain = find_toolchain(clang)
            facts["clang"] = toolchain.version_text
            facts["clang_sha256"] = _file_digest(toolchain.clang)
        except MlgoError as error:
            facts["clang"] = facts["clang_sha256"] = f"unusable: {error}"
    return facts


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlgo")
    except PackageNotFoundError:
        return "not installed"


def _code_digest() -> str:
    """A hash of every Python file of `compiler_opt` (the code jobs run), by relative path and content.

    Read afresh at every check: what a node's new workers would import now."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class _Node:
    """Per worker process: the node's temp dir as it was before any task, and how many tasks ran here."""

    base_temp: str | None = None
    tasks = itertools.count()
    name: str | None = None


def _base_temp() -> str:
    if _Node.base_temp is None:
        _Node.base_temp = tempfile.gettempdir()
    return _Node.base_temp


def _pool_dir(pool: str) -> Path:
    return Path(_base_temp(), _TASK_ROOT_PREFIX + pool)


def _remove_pool_dir(pool: str) -> None:
    shutil.rmtree(_pool_dir(pool), ignore_errors=True)


def _sweep(pool_dir: Path) -> None:
    """Remove the task dirs of processes that are gone (tasks killed by a timeout or a cancel)."""
    try:
        entries = list(os.scandir(pool_dir))
    except OSError:
        return
    for entry in entries:
        pid = entry.name.split("-")[1] if entry.name.startswith("task-") else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(entry.path, ignore_errors=True)


def _worker_name() -> str:
    if _Node.name is None:
        import ray

        context = ray.get_runtime_context()
        _Node.name = f"ray/{context.get_node_id()[:8]} (pid {os.getpid()})"
    return _Node.name


def _materialise(value: Any, ship: _Ship, values: list, folder: Path) -> Any:
    """`value` with its module's files written under `folder` from the shipped bytes (paths keep their type)."""
    module = value if ship.field is None else getattr(value, ship.field)
    folder.mkdir(parents=True, exist_ok=True)
    local = {}
    for attribute, index in ship.files:
        original = getattr(module, attribute)
        path = folder / f"{index}-{Path(original).name}"
        path.write_bytes(values[index])
        local[attribute] = type(original)(path)
    module = dataclasses.replace(module, **local)
    return module if ship.field is None else dataclasses.replace(value, **{ship.field: module})


def _execute(header: _Header, fn, *values) -> bytes:
    """The Ray task: run one job in a private temp dir; its pickled (ok, value, seconds, traceback, worker)."""
    pool_dir = _pool_dir(header.pool)
    workdir = pool_dir / f"task-{os.getpid()}-{next(_Node.tasks)}"
    _sweep(pool_dir)
    workdir.mkdir(parents=True)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(workdir)
    try:
        with claimed_cpu(pool_dir, pin=True):
            started = time.monotonic()
            try:
                values = list(values)
                for ship in header.ships:
                    values[ship.index] = _materialise(values[ship.index], ship, values, workdir / "shipped")
                args = values[:header.args]
                kwargs = dict(zip(header.kwargs, values[header.args:header.args + len(header.kwargs)]))
                reply = (True, fn(*args, **kwargs), time.monotonic() - started, "")
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - every failure (SystemExit too) is the job's result
                reply = (False, _portable_error(header.key, error), time.monotonic() - started, traceback.format_exc())
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        return pickle.dumps((*reply, _worker_name()), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # noqa: BLE001 - an unpicklable result
        return pickle.dumps((False, JobException(
            header.key, f"the job's result cannot be pickled: {type(error).__name__}: {error}", type(error).__name__),
            reply[2], "", _worker_name()))
