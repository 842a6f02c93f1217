"""One job's call inside a worker, and its outcome's way back, shared by every backend.

A worker runs `call_job`, which never raises for the job (KeyboardInterrupt
aside): the reply is (ok, value or error, seconds, traceback text), with an
error that does not survive pickling replaced by a `JobException` naming its
type and message. `packed_reply` pickles it with the worker's name (a value
that does not pickle becomes a failure); `unpacked_result` turns the bytes
back into the job's `JobResult` on the caller's side.
"""

from __future__ import annotations

import pickle
import time
import traceback
from collections.abc import Callable
from typing import Any

from compiler_opt.pool.base import JobException, JobResult, JobStatus

__all__ = ["Reply", "call_job", "packed_reply", "portable_error", "unpacked_result"]

# (ok, the value or the error, seconds, the traceback's text when it failed)
Reply = tuple[bool, Any, float, str]


def portable_error(key: str, error: BaseException) -> BaseException:
    """`error` if it survives pickling, else a `JobException` with its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return JobException(key, f"{type(error).__name__}: {error}", type(error).__name__)


def call_job(key: str, call: Callable[[], Any]) -> Reply:
    """`call()`'s reply for job `key`: every failure (SystemExit too) is the job's, timed like a value."""
    started = time.monotonic()
    try:
        return True, call(), time.monotonic() - started, ""
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        return False, portable_error(key, error), time.monotonic() - started, traceback.format_exc()


def packed_reply(key: str, reply: Reply, worker: str = "") -> bytes:
    """The reply and the worker's name, pickled; a value that does not pickle becomes the job's failure."""
    try:
        return pickle.dumps((*reply, worker), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        return pickle.dumps(
            (
                False,
                JobException(
                    key, f"the job's result cannot be pickled: {type(error).__name__}: {error}", type(error).__name__
                ),
                reply[2],
                "",
                worker,
            )
        )


def unpacked_result(key: str, data: bytes, worker: str | None = None) -> JobResult:
    """The `JobResult` of a packed reply; `worker` names the worker as the caller knows it (default: its own name)."""
    try:
        ok, value, seconds, trace, sender = pickle.loads(data)
    except Exception as error:
        return JobResult(
            key,
            JobStatus.FAILED,
            error=JobException(
                key, f"the job's result cannot be unpickled: {type(error).__name__}: {error}", type(error).__name__
            ),
            worker=worker or "",
        )
    worker = sender if worker is None else worker
    if ok:
        return JobResult(key, JobStatus.OK, value=value, seconds=seconds, worker=worker)
    return JobResult(key, JobStatus.FAILED, error=value, seconds=seconds, worker=worker, traceback=trace)
