"""Progress where stderr is not a terminal (CI logs, `tee`): a plain line every interval, with rate and ETA."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from compiler_opt.progress import ProgressLines


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_interval_with_rate_and_eta_then_a_last_line(capsys):
    clock = FakeClock()
    bar = ProgressLines(total=100, desc="compile", unit="file", interval=10, clock=clock)
    for _ in range(50):
        clock.now += 1
        bar.update(1)
        if clock.now == 25:
            bar.set_postfix(failed=2, refresh=False)
    bar.close()
    assert capsys.readouterr().err.splitlines() == [
        "[compile] 10/100 file (10%), 1 file/s, ETA 1m30s",
        "[compile] 20/100 file (20%), 1 file/s, ETA 1m20s",
        "[compile] 30/100 file (30%), 1 file/s, ETA 1m10s, failed=2",
        "[compile] 40/100 file (40%), 1 file/s, ETA 1m00s, failed=2",
        "[compile] 50/100 file (50%), 1 file/s, ETA 50s, failed=2",
        "[compile] 50/100 file (50%) in 50s, failed=2",
    ]


def test_work_shorter_than_the_interval_prints_nothing(capsys):
    clock = FakeClock()
    for _ in ProgressLines(range(5), desc="plots", unit="plot", interval=10, clock=clock):
        clock.now += 1
    assert capsys.readouterr().err == ""


def test_a_real_stage_piped_reports_progress_lines(small_sample):
    # `corpus stats --inline-remarks` compiles every module of the small sample (36): a few seconds on one job.
    env = {**os.environ, "MLGO_PROGRESS_INTERVAL": "0.2"}
    env.pop("MLGO_PROGRESS", None)
    result = subprocess.run(
        [sys.executable, "-m", "mlgo.cli", "corpus", "stats", "--inline-remarks", "--workers", "1", str(small_sample)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = re.findall(r"^\[count\] (\d+)/(\d+) module \(\d+%\), [\d.]+ module/s, ETA \w+$", result.stderr, re.M)
    assert len(lines) >= 3, result.stderr
    assert [int(done) for done, _ in lines] == sorted(int(done) for done, _ in lines)
    assert re.search(r"^\[count\] (\d+)/\1 module \(100%\) in \w+$", result.stderr, re.M), result.stderr
