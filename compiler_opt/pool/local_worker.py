"""The worker process of the local pool: its set-up, and its loop of jobs and shared objects.

`serve(conn, cpu, tempdir)` is the process's target. It leaves the caller's
session, pins itself to `cpu` (None: any allowed CPU), makes `tempdir` its
temp dir, then answers messages from `compiler_opt.pool.local` until told to
stop or the pipe closes: ("share", id) followed by the object's pickled
bytes, ("drop", id), ("job", key, pickled (fn, args, kwargs)) answered with
a packed reply (`compiler_opt.pool.job_call`), and ("stop",). A shared
object is unpickled on its first use and kept until dropped.
"""

from __future__ import annotations

import functools
import os
import pickle
import tempfile
from typing import Any

from compiler_opt.pool.base import SharedRef
from compiler_opt.pool.job_call import call_job, packed_reply

__all__ = ["serve"]


def serve(conn, cpu: int | None, tempdir: str) -> None:
    """Run jobs sent over `conn` (see the module docstring) until stopped."""
    try:
        os.setsid()
    except OSError:
        pass
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    os.environ["TMPDIR"] = tempdir
    tempfile.tempdir = tempdir
    shared_bytes: dict[int, bytes] = {}
    shared_objects: dict[int, Any] = {}

    def resolve(value):
        if not isinstance(value, SharedRef):
            return value
        if value.id not in shared_objects:
            shared_objects[value.id] = pickle.loads(shared_bytes.pop(value.id))
        return shared_objects[value.id]

    def run(payload: bytes):
        fn, args, kwargs = pickle.loads(payload)
        return fn(*(resolve(a) for a in args), **{name: resolve(value) for name, value in kwargs.items()})

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "stop":
            return
        if kind == "share":
            shared_bytes[message[1]] = conn.recv_bytes()
            continue
        if kind == "drop":
            shared_bytes.pop(message[1], None)
            shared_objects.pop(message[1], None)
            continue
        _, key, payload = message
        try:
            conn.send_bytes(packed_reply(key, call_job(key, functools.partial(run, payload))))
        except OSError:
            return
