"""Progress of long stages: a plain line with frames done, rate and time left, at least once a
minute, in the log and (in a workflow job) on the console."""

from __future__ import annotations

import io
import logging
import re
import sys

import sstsal.logs as logs
from sstsal.pipeline.job import job_log


def test_a_line_per_interval_and_at_the_end(monkeypatch, caplog):
    now = [0.0]
    bar = logs.progress_bar(100, "inference", disable=False)
    bar._clock = lambda: now[0]
    bar._start = bar._last = 0.0
    with caplog.at_level(logging.INFO, logger="sstsal.progress"):
        for step in range(100):
            now[0] = step * 1.5  # 1.5 s per frame: a line every 60 s, i.e. every 40 frames
            bar.update()
    bar.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "sstsal.progress"]
    assert len(lines) == 3, lines  # at 41 and 81 frames, and the last
    assert re.fullmatch(r"inference: 41/100 frames, 0\.68 frames/s, 1m\d\ds left", lines[0]), lines[0]
    assert lines[-1].startswith("inference: 100/100 frames") and lines[-1].endswith("0m00s left")


def test_a_job_sends_progress_lines_to_its_log_and_the_console(tmp_path, monkeypatch):
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    with job_log(tmp_path / "job.log"):
        with logs.progress_bar(2, "render v", disable=False) as bar:
            bar.update(2)
    assert re.search(r"render v: 2/2 frames, [\d.]+ frames/s, 0m00s left", (tmp_path / "job.log").read_text())
    assert re.search(rf"render v: 2/2 frames, .* left \({re.escape(str(tmp_path / 'job.log'))}\)", console.getvalue())
