"""The CPU claim: lock files make concurrent claimants take different CPUs, and pinning is undone."""

from __future__ import annotations

import contextlib
import os

import pytest

from compiler_opt.pool.cpu_claim import claimed_cpu, user_cpu_folder

needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")


@needs_two_cpus
def test_concurrent_claims_hold_different_cpus_until_every_cpu_is_taken(tmp_path):
    allowed = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        cpus = [stack.enter_context(claimed_cpu(tmp_path)) for _ in allowed]
        assert sorted(cpus) == sorted(allowed)
        with claimed_cpu(tmp_path) as extra:
            assert extra is None
    with claimed_cpu(tmp_path) as again:  # the locks went with the blocks
        assert again in allowed


@needs_two_cpus
def test_pin_holds_the_thread_on_the_claimed_cpu_for_the_block_only(tmp_path):
    allowed = os.sched_getaffinity(0)
    with claimed_cpu(tmp_path, pin=True) as cpu:
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == allowed


def test_a_process_on_one_cpu_claims_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    with claimed_cpu(tmp_path, pin=True) as cpu:
        assert cpu is None
    assert list(tmp_path.iterdir()) == []


def test_the_default_folder_is_the_users_own(monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert user_cpu_folder() == tmp_path / f"mlgo-cpus-{os.getuid()}"
