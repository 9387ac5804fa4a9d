"""Glue for the workflow's ``script:`` files: log to the job's log file, report errors clearly.

Snakemake shows only "Error in rule ..." and the log's path when a job fails; the one-line
reason of an :class:`~sstsal.errors.SstsalError` is also printed on the console so the user
sees what is wrong without opening the log.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sstsal.errors import SstsalError
from sstsal.logs import configure_logging
from sstsal.pipeline.atomic import remove_stale_temporaries

if TYPE_CHECKING:  # imported when called: the job's log must be set up before torch loads
    from sstsal.flow.settings import FlowSettings
    from sstsal.model.settings import InferenceSettings


@contextlib.contextmanager
def job_log(
    log_path: str | os.PathLike, *, outputs: Iterable[str] = (), threads: int | None = None
) -> Iterator[None]:
    """Send stderr (progress bars, warnings, tracebacks) to ``log_path`` for the job's duration.

    outputs: the job's outputs, whose stale temporaries from a killed earlier attempt are removed.
    threads: the job's Snakemake threads, applied to OpenCV and (if loaded later) torch.
    An SstsalError becomes ``error: <message>`` in the log and on the console, exit code 1.
    """
    console = sys.stderr
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1, encoding="utf-8") as log:
        sys.stderr = log
        configure_logging()  # the package's messages go to the current stderr: this log
        for output in outputs:
            for path in remove_stale_temporaries(output):
                print(f"removed {path}, left by an interrupted earlier run", file=log)
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


def flow_settings(params) -> FlowSettings:
    """The flow rule's Snakemake ``params`` as :class:`~sstsal.flow.settings.FlowSettings`.

    One mapping for the whole-video and the chunked flow jobs, so their images cannot drift apart.
    """
    from sstsal.flow.settings import FlowSettings

    return FlowSettings.from_params(params)


def flow_options(params) -> dict:
    """The earlier form of :func:`flow_settings`: keyword options of
    :func:`sstsal.flow.engines.compute_flow_folder`. ``save_raw`` stays off: no flow.npz among the
    flow images (validation rejects it); the raw flow goes out as .npy files instead."""
    return {"settings": flow_settings(params), "save_raw": False}


def inference_settings(params) -> InferenceSettings:
    """The inference rule's Snakemake ``params`` as :class:`~sstsal.model.settings.InferenceSettings`
    (the whole-video and the chunked inference jobs)."""
    from sstsal.model.settings import InferenceSettings

    return InferenceSettings.from_params(params)
