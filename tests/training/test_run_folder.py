"""The run folder: a started run is not overwritten; what an interrupted iteration left is dropped on resume."""

from __future__ import annotations

import json
import logging

import pytest

from compiler_opt.training.run_folder import RunFolder, RunFolderError


def test_a_started_run_is_not_overwritten(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.create({"problem": "inlining"})
    assert folder.started() and folder.read_config() == {"problem": "inlining"}
    with pytest.raises(RunFolderError, match="--resume"):
        folder.create({"problem": "inlining"})


def test_logs_keep_complete_iterations_only(tmp_path):
    folder = RunFolder(tmp_path)
    for iteration in (1, 2, 3):
        folder.append_log({"iteration": iteration, "loss": 0.5}, f"iteration {iteration}/5: loss 0.5")
    with open(folder.log, "a") as stream:
        stream.write('{"iteration": 4, "lo')  # torn by a kill mid-write
    assert [r["iteration"] for r in folder.read_log()] == [1, 2, 3]
    folder.trim_logs(2)
    assert [r["iteration"] for r in folder.read_log()] == [1, 2]
    assert folder.human_log.read_text().splitlines() == ["iteration 1/5: loss 0.5", "iteration 2/5: loss 0.5"]


def test_prune_keeps_the_named_iterations(tmp_path):
    folder = RunFolder(tmp_path)
    folder.checkpoints.mkdir()
    for iteration in (1, 2, 3):
        for suffix in (".index", ".data-00000-of-00001"):
            (folder.checkpoints / (folder.checkpoint_prefix(iteration).name + suffix)).write_text("x")
        folder.iteration_trajectories(iteration).mkdir(parents=True)
    (folder.trajectories / "labels").mkdir()
    folder.prune(keep_checkpoints=[2], keep_trajectories=[1])
    assert sorted(p.name for p in folder.checkpoints.iterdir()) == [
        "iteration-00002.data-00000-of-00001",
        "iteration-00002.index",
    ]
    assert sorted(p.name for p in folder.trajectories.iterdir()) == ["iteration-00001", "labels"]


def test_state_and_failed_modules_are_json(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_state() is None
    folder.write_state({"iteration": 3, "checkpoint": "checkpoints/iteration-00003"})
    assert folder.read_state()["iteration"] == 3
    folder.write_failed_modules({"b/m": {"error": "CompilerCrash: ...", "failures": 2}})
    assert json.loads(folder.failed_modules.read_text()) == [
        {"module": "b/m", "error": "CompilerCrash: ...", "failures": 2}
    ]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_torn_log_line_is_reported_and_the_last_complete_record_restored(tmp_path, caplog):
    folder = RunFolder(tmp_path)
    records = [{"iteration": i, "loss": 0.5} for i in (1, 2)]
    for record in records:
        folder.append_log(record, f"step {record['iteration']}/5: loss 0.5")  # ES writes "step N/M" lines
    folder.log.write_text(folder.log.read_text()[:-8])  # iteration 2's record torn (state.json names it complete)
    with caplog.at_level(logging.WARNING):
        folder.trim_logs(2, records[1], "step 2/5: loss 0.5")
    assert folder.read_log() == records
    assert (
        f"{folder.log}: dropping line 2" in caplog.text
        and "iteration 2 (complete) was missing; restored" in caplog.text
    )
    assert folder.human_log.read_text().splitlines() == ["step 1/5: loss 0.5", "step 2/5: loss 0.5"]
    caplog.clear()
    with open(folder.log, "a") as stream:
        stream.write('{"iteration": 3, "lo')  # the iteration in flight: redone
    with open(folder.human_log, "a") as stream:
        stream.write("step 3/5: loss 0.4\n")
    with caplog.at_level(logging.WARNING):
        folder.trim_logs(2, records[1], "step 2/5: loss 0.5")
    assert folder.read_log() == records and "dropping line 3" in caplog.text and "restored" not in caplog.text
    assert folder.human_log.read_text().splitlines() == ["step 1/5: loss 0.5", "step 2/5: loss 0.5"]
    caplog.clear()
    folder.log.write_text(folder.log.read_text()[:-8])
    with caplog.at_level(logging.WARNING):
        folder.trim_logs(2)  # a state.json of an older run keeps no copy: the loss is reported
    assert "the record of iteration 2 (complete) is missing" in caplog.text and "lost" in caplog.text
