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
