"""A job's call in a worker and its reply: failures become portable errors, unpicklable values failures."""

from __future__ import annotations

import threading

from compiler_opt.pool.base import JobException, JobStatus
from compiler_opt.pool.job_call import call_job, packed_reply, portable_error, unpacked_result


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def test_a_value_comes_back_with_the_worker_the_caller_names():
    result = unpacked_result("k", packed_reply("k", call_job("k", lambda: 42), "w1"), "slot 0")
    assert result.status is JobStatus.OK and result.value == 42 and result.worker == "slot 0"
    assert unpacked_result("k", packed_reply("k", call_job("k", lambda: 1), "w1")).worker == "w1"


def test_an_error_that_does_not_pickle_becomes_a_job_exception_with_its_type():
    def fail():
        raise _Unpicklable()

    result = unpacked_result("k", packed_reply("k", call_job("k", fail)))
    assert result.status is JobStatus.FAILED and isinstance(result.error, JobException)
    assert result.error.type_name == "_Unpicklable" and "holds a lock" in str(result.error)
    assert "_Unpicklable" in result.traceback
    assert portable_error("k", ValueError("x")).args == ("x",)


def test_a_value_that_does_not_pickle_is_the_jobs_failure():
    result = unpacked_result("k", packed_reply("k", call_job("k", threading.Lock)))
    assert result.status is JobStatus.FAILED and "cannot be pickled" in str(result.error)
