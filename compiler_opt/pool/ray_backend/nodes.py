"""The Ray cluster's nodes: which can run jobs, how many CPUs they offer, and whether they match the driver.

At a pool's start (and for nodes that joined since, at each run) every node
with CPUs runs `node_facts`; all must report the driver's Python version,
mlgo version and code digest, and the same clang (version line and binary
hash) at the path the jobs use, else `ClusterMismatch` names the nodes and
what differs (`NodeCheck`).
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import compiler_opt
from compiler_opt.errors import MlgoError
from compiler_opt.pool.ray_backend.connection import ClusterError, first_line, ray_module
from compiler_opt.pool.ray_backend.task import remove_pool_dir

__all__ = ["ClusterMismatch", "NodeCheck", "cluster_cpus", "live_nodes", "node_facts", "remove_pool_dirs"]

_CHECK_SECONDS = 120.0
_CLEANUP_SECONDS = 10.0


class ClusterMismatch(ClusterError):
    """Some node runs another clang, mlgo or Python than the driver."""


def live_nodes() -> list[dict]:
    """The live nodes that can run jobs (have CPUs)."""
    return [node for node in ray_module().nodes() if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0]


def cluster_cpus(requested: int | None) -> int:
    """How many jobs may be out at once: the cluster's CPUs, or `requested` when fewer."""
    cpus = int(ray_module().cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise ClusterError(
            "the Ray cluster has no CPUs to run jobs on: start worker nodes with "
            "`ray start --address=HEAD:PORT` (a head started with --num-cpus=0 runs no jobs)"
        )
    return cpus if requested is None else min(requested, cpus)


def _on_each_node(function, nodes: list[dict], *args, retries: int) -> list:
    """Refs of `function(*args)` run once on each of `nodes`, on no CPU."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray_module().remote(num_cpus=0, max_retries=retries)(function)
    return [
        remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(*args)
        for node in nodes
    ]


def remove_pool_dirs(pool: str) -> None:
    """Remove pool `pool`'s task folder on every node (best effort, bounded in time)."""
    try:
        refs = _on_each_node(remove_pool_dir, live_nodes(), pool, retries=0)
        ray_module().wait(refs, num_returns=len(refs), timeout=_CLEANUP_SECONDS)
    except Exception:
        pass


class NodeCheck:
    """Checks each node once against this machine's facts for the clang at `clang` (None: no check at all)."""

    def __init__(self, clang: str | os.PathLike | None, enabled: bool = True) -> None:
        self.clang = _reference_clang(clang) if enabled else None
        self._reference = node_facts(self.clang) if enabled else None
        self._checked: set[str] = set()

    def check_new_nodes(self) -> None:
        """Every node not checked yet must match the driver (see the module docstring)."""
        if self._reference is None:
            return
        ray = ray_module()
        nodes = [node for node in live_nodes() if node["NodeID"] not in self._checked]
        if not nodes:
            return
        try:
            answers = ray.get(_on_each_node(node_facts, nodes, self.clang, retries=1), timeout=_CHECK_SECONDS)
        except ray.exceptions.GetTimeoutError as error:
            raise ClusterError(
                f"some of the Ray nodes {', '.join(_node_name(n) for n in nodes)} did not answer the "
                f"version check within {_CHECK_SECONDS:g} s; see `ray status`"
            ) from error
        except ray.exceptions.RayError as error:
            raise ClusterError(f"the version check failed on a Ray node: {first_line(error)}") from error
        problems = []
        for node, answer in zip(nodes, answers):
            differences = [
                f"{name}: {self._reference.get(name)!r} here, {answer.get(name)!r} there"
                for name in sorted(self._reference)
                if name != "host" and answer.get(name) != self._reference.get(name)
            ]
            if differences:
                problems.append(f"node {_node_name(node)} ({answer.get('host')}): " + "; ".join(differences))
        if problems:
            raise ClusterMismatch(
                "these Ray nodes differ from this machine:\n  " + "\n  ".join(problems) + "\nEvery node needs the "
                f"same clang at {self.clang}, the same mlgo checkout or version and the same Python "
                "(docs/distributed.md); fix or remove those nodes (`ray stop` on them) and start again"
            )
        self._checked.update(node["NodeID"] for node in nodes)


def _reference_clang(clang: str | os.PathLike | None) -> str:
    from compiler_opt.llvm.toolchain import find_toolchain

    return str(find_toolchain(clang).clang)


def _node_name(node: dict) -> str:
    return f"{node['NodeID'][:8]} at {node.get('NodeManagerAddress', '?')}"


# ---- on the nodes ------------------------------------------------------------------------------------


def node_facts(clang: str | None) -> dict[str, str]:
    """What must agree between the driver and every node: Python, mlgo, its code, and the clang at `clang`."""
    from compiler_opt.llvm.toolchain import find_toolchain

    facts = {
        "host": platform.node(),
        "python": platform.python_version(),
        "mlgo": _package_version(),
        "code": _code_digest(),
    }
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
    root = Path(compiler_opt.__file__).resolve().parent
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
