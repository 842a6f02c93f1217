"""A throwaway multi-node Ray cluster on this machine, for tests, benchmarks and trying the Ray backend.

    with LocalRayCluster(nodes=2, cpus_per_node=1) as cluster:
        with RayPool(cluster.address) as pool:
            ...

Each node is its own `ray start --block` process (the head first, then
workers joining it on loopback), in a session of its own, with `cpus_per_node`
CPUs and an object store of `object_store_bytes`. Nodes are started with the
environment a real cluster needs (`SUBREAPER_VARIABLE`, no usage reporting)
plus `env`, and a head that declares a silent node dead within a few seconds.
`kill_node` kills a node's whole process tree at once, as a crash would;
`stop()` ends every node with SIGTERM and then kills what is left of its
tree. It never runs `ray stop`, which would stop every Ray node of the user
on the machine, other people's included.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.pool.ray_backend.connection import SUBREAPER_VARIABLE, ClusterError
from compiler_opt.processes import kill_process_tree

__all__ = ["LocalRayCluster", "RayNode"]

_START_SECONDS = 120.0
_STOP_SECONDS = 15.0
_READY = "Ray runtime started"
# A head that hears nothing from a node for ~2 s declares it dead (Ray's default is ~15 s).
_FAST_HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "4",
}


@dataclass
class RayNode:
    """One `ray start --block` process and its log."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


class LocalRayCluster:
    """A head node plus `nodes - 1` worker nodes on loopback; see the module docstring."""

    def __init__(
        self,
        nodes: int = 2,
        *,
        cpus_per_node: int = 1,
        object_store_bytes: int = 80 << 20,
        env: dict[str, str] | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, got {nodes}")
        self._count = nodes
        self.cpus_per_node = cpus_per_node
        self.object_store_bytes = object_store_bytes
        self.env = dict(env or {})
        self.nodes: list[RayNode] = []
        self.port = 0
        self._temp = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalRayCluster:
        self._temp = tempfile.mkdtemp(prefix="mlgo-rc-")  # short: Ray's socket paths live under it
        try:
            self.port = _free_port()
            self.nodes.append(
                self._start_node(
                    "head",
                    [
                        "--head",
                        f"--port={self.port}",
                        f"--ray-client-server-port={_free_port()}",
                        "--include-dashboard=false",
                        f"--temp-dir={self._temp}",
                    ],
                    _FAST_HEALTH_CHECKS,
                )
            )
            for _ in range(self._count - 1):
                self.add_node()
        except BaseException:
            self.stop()
            raise
        return self

    def add_node(self, env: dict[str, str] | None = None, cpus: int | None = None) -> RayNode:
        """Start one more worker node joining the head (with extra environment `env`)."""
        node = self._start_node(f"node{len(self.nodes)}", [f"--address={self.address}"], env or {}, cpus)
        self.nodes.append(node)
        return node

    def kill_node(self, node: RayNode) -> None:
        """Kill the node's raylet, workers and everything under them at once (a crash, not a shutdown)."""
        kill_process_tree(node.pid)
        node.process.wait()

    def stop(self) -> None:
        """End every node (workers first, then the head) and remove the cluster's temp dir."""
        for node in reversed(self.nodes):
            _end(node)
        self.nodes.clear()
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = ""

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _start_node(self, name: str, options: list[str], env: dict[str, str], cpus: int | None = None) -> RayNode:
        # A throwaway cluster on loopback: no token (Ray would otherwise pick up ~/.ray/auth_token if some
        # other run left one, or this process's own token if it runs a private instance).
        environment = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            SUBREAPER_VARIABLE: "true",
            "RAY_AUTH_MODE": "disabled",
            **self.env,
            **env,
        }
        environment.pop("RAY_AUTH_TOKEN", None)
        log = Path(self._temp, f"{name}.log")
        command = [
            *_ray_command(),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus_per_node if cpus is None else cpus}",
            f"--object-store-memory={self.object_store_bytes}",
            "--disable-usage-stats",
            *options,
        ]
        with open(log, "wb") as stream:
            process = subprocess.Popen(
                command,
                stdout=stream,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )
        node = RayNode(name, process, log)
        end = time.monotonic() + _START_SECONDS
        while _READY not in log.read_text(errors="replace"):
            if not node.alive() or time.monotonic() > end:
                tail = log.read_text(errors="replace")[-2000:]
                _end(node)
                raise ClusterError(f"Ray node {name} did not start ({' '.join(command)}):\n{tail}")
            time.sleep(0.2)
        return node


def _ray_command() -> list[str]:
    script = Path(sys.executable).parent / "ray"
    if script.exists():
        return [str(script)]
    found = shutil.which("ray")
    if found is None:
        raise ClusterError("the `ray` command is not installed beside this Python nor on PATH: install the ray extra")
    return [found]


def _end(node: RayNode) -> None:
    if node.alive():
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(_STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    if node.process.returncode is None:  # still there (a worker stuck in a job): kill the tree, then reap
        kill_process_tree(node.pid)
        node.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
