"""Glue for the workflow's ``script:`` files: log to the job's log file, report errors clearly.

Snakemake shows only "Error in rule ..." and the log's path when a job fails; the one-line
reason of an :class:`~sstsal.errors.SstsalError` is also printed on the console so the user
sees what is wrong without opening the log.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from sstsal.errors import SstsalError


@contextlib.contextmanager
def job_log(log_path: str | os.PathLike, *, threads: int | None = None) -> Iterator[None]:
    """Send stderr (progress bars, warnings, tracebacks) to ``log_path`` for the job's duration.

    threads: the job's Snakemake threads, applied to OpenCV and (if loaded later) torch.
    An SstsalError becomes ``error: <message>`` in the log and on the console, exit code 1.
    """
    console = sys.stderr
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1, encoding="utf-8") as log:
        sys.stderr = log
        if threads is not None:
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            import cv2

            cv2.setNumThreads(threads)
        try:
            yield
        except SstsalError as exc:
            print(f"error: {exc}", file=log)
            print(f"error: {exc}\n(log: {log_path})", file=console)
            sys.stderr = console
            raise SystemExit(1) from None
        finally:
            sys.stderr = console
