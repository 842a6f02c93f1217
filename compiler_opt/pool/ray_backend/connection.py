"""The Ray backend's connection: one per process, shared by its pools, and the environment it changes.

`connect(address)` joins the cluster at HOST:PORT (`auto`: the cluster this
machine is a node of), or starts a private Ray instance on this machine
(None) with the raylet set to kill a dead worker's orphans
(`SUBREAPER_VARIABLE`) and no auth token written for later drivers; a
process already connected shares its connection. `disconnect()` drops one
user, and the last one stops a private instance, removes its folder and
puts back the environment it changed. Ray itself is imported only here, on
first use (`ray_module`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
from typing import Any

from compiler_opt.errors import MlgoError

__all__ = ["SUBREAPER_VARIABLE", "ClusterError", "RayUnavailable", "connect", "disconnect", "first_line", "ray_module"]

SUBREAPER_VARIABLE = "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper"
_CONNECT_SECONDS = 10.0
_AUTH_VARIABLES = ("RAY_AUTH_MODE",)


class RayUnavailable(MlgoError):
    """The `ray` package is not installed."""


class ClusterError(MlgoError):
    """The Ray cluster cannot be reached or cannot run jobs."""


def ray_module():
    """The `ray` package, imported now; `RayUnavailable` says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable(
            "the Ray backend needs the `ray` package: install the extra with `pip install -c requirements.txt "
            "-e '.[ray]'` in a checkout (or `pip install 'mlgo[ray]'`), on the driver and every node"
        ) from error
    return ray


def first_line(error: BaseException) -> str:
    """The first line of an error's message (Ray's carry whole remote tracebacks), else its type's name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Connection:
    users = 0
    owned = False
    temp: str | None = None  # the session folder of a private instance, removed after it stops
    saved_environment: dict[str, str | None] = {}  # what the private instance's auth setting replaced


def connect(address: str | None) -> None:
    """Connect this process to the cluster at `address` (module docstring), or share its connection."""
    ray = ray_module()
    if ray.is_initialized():  # one process talks to one cluster: its pools share the connection
        current = ray.get_runtime_context().gcs_address
        if address not in (None, "auto") and current.rpartition(":")[2] != address.rpartition(":")[2]:
            raise ClusterError(
                f"this process is connected to the Ray cluster at {current} already; close its "
                f"pools before using the one at {address}"
            )
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
        options.update(
            address="local",
            include_dashboard=False,
            _temp_dir=_Connection.temp,
            _system_config={"kill_child_processes_on_worker_exit_with_raylet_subreaper": True},
        )
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
        raise ClusterError(
            f"--ray-address {address!r} is not HOST:PORT (the head's address as `ray start --head` "
            "printed it, e.g. 10.0.0.1:6379), nor `auto` (the cluster this machine is a node of)"
        )
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_SECONDS).close()
    except OSError as error:
        raise ClusterError(
            f"no Ray head node answers at {address} ({error}). Start one with `ray start --head --port={port}` "
            "(docs/distributed.md), or pass the address it printed to --ray-address"
        ) from error


def disconnect() -> None:
    """One user less; the last one stops a private instance and undoes what it changed."""
    _Connection.users = max(_Connection.users - 1, 0)
    if _Connection.users == 0 and _Connection.owned:
        _Connection.owned = False
        ray_module().shutdown()
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
