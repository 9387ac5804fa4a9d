"""Logging set-up, called only by the entry points (the CLI's ``main`` and the workflow's job
wrapper); library modules only ask for ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging
import sys


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    The workflow's jobs point stderr at their log file while they run, so binding the
    stream once, as ``logging.StreamHandler`` does, would miss the log.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: D102
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Messages of the ``sstsal`` loggers go to the current stderr, one plain line each (idempotent)."""
    package_logger = logging.getLogger("sstsal")
    if not any(isinstance(h, CurrentStderrHandler) for h in package_logger.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        package_logger.addHandler(handler)
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(level)


PROGRESS_LINE_S = 60.0  # a plain progress line at least this often (logs, consoles)
progress_logger = logging.getLogger("sstsal.progress")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class ProgressBar:
    """A tqdm bar on the current stderr (the job's log: updated every 2 s) that also logs one plain
    line ``<label>: <done>/<total> <unit>s, <rate>/s, <time> left`` at most every
    :data:`PROGRESS_LINE_S` seconds and at the end, to the ``sstsal.progress`` logger (which the
    workflow's jobs also send to the console)."""

    def __init__(self, total: int, label: str, *, unit: str = "frame", disable: bool = False) -> None:
        import time

        from tqdm import tqdm

        self._clock = time.monotonic
        self.total, self.label, self.unit, self.disable = total, label, unit, disable
        self.done = 0
        self._start = self._last = self._clock()
        self._bar = tqdm(total=total, desc=label, unit=unit, disable=disable, file=sys.stderr, mininterval=2.0)

    def line(self) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 and self.total else float("nan")
        left_text = _duration(left) if left == left else "?"
        return f"{self.label}: {self.done}/{self.total} {self.unit}s, {rate:.2f} {self.unit}s/s, {left_text} left"

    def update(self, n: int = 1) -> None:
        self.done += n
        self._bar.update(n)
        now = self._clock()
        if not self.disable and (now - self._last >= PROGRESS_LINE_S or self.done == self.total):
            self._last = now
            progress_logger.info("%s", self.line())

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int, label: str, *, unit: str = "frame", disable: bool = False) -> ProgressBar:
    """A :class:`ProgressBar` for a loop of ``total`` steps."""
    return ProgressBar(total, label, unit=unit, disable=disable)
