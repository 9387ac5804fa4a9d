"""Glue for the workflow's ``script:`` files: log to the job's log file, report errors clearly.

Snakemake shows only "Error in rule ..." and the log's path when a job fails; the one-line
reason of an :class:`~sstsal.errors.SstsalError` is also printed on the console so the user
sees what is wrong without opening the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sstsal.atomic import remove_stale_temporaries
from sstsal.errors import SstsalError
from sstsal.logs import configure_logging
from sstsal.pipeline.gpus import job_gpu
from sstsal.pipeline.provenance import StageRecord, recording
from sstsal.pipeline.slurm_fit import gres_gpus

if TYPE_CHECKING:  # imported when called: the job's log must be set up before torch loads
    from sstsal.flow.settings import FlowSettings
    from sstsal.model.settings import InferenceSettings


@contextlib.contextmanager
def job_log(
    log_path: str | os.PathLike,
    *,
    outputs: Iterable[str] = (),
    threads: int | None = None,
    record: str | os.PathLike | None = None,
    rule: str = "",
    params: Mapping[str, Any] | None = None,
    gpu: int = 0,
    device: str = "cpu",
    gpus: Mapping | None = None,
    failure: Mapping[str, Any] | None = None,
) -> Iterator[StageRecord]:
    """Send stderr (progress bars, warnings, tracebacks) to ``log_path`` for the job's duration.

    outputs: the job's outputs, whose stale temporaries from a killed earlier attempt are removed.
    threads: the job's Snakemake threads, applied to OpenCV and (if loaded later) torch.
    record, rule, params: the job's provenance record (sstsal.pipeline.provenance), written to
    ``record`` when the job succeeds; the job adds facts to the yielded record.
    gpu, device, gpus: the job's ``resources: gpu``, its device setting and the config's
        ``gpus``; a GPU job holds a GPU of the pool (:mod:`sstsal.pipeline.gpus`) throughout.
    failure: where and for which video to write the failure record when the job fails
        (:func:`sstsal.pipeline.library.write_failure`'s ``path``, ``video``, ``source``).
    Every warning of the package's loggers during the job goes into the record too.
    An SstsalError becomes ``error: <message>`` in the log and on the console, exit code 1;
    Ctrl-C ends the job with one line in the log and no traceback (Snakemake says how to resume).
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
        package_logger = logging.getLogger("sstsal")
        warnings = _WarningsToRecord()
        # a long stage's progress lines (sstsal.logs.ProgressBar) also reach the console of a local run
        to_console = logging.StreamHandler(console)
        to_console.setFormatter(logging.Formatter(f"%(message)s ({log_path})"))
        logging.getLogger("sstsal.progress").addHandler(to_console)
        try:
            with (
                job_gpu(gpu, device, dict(gpus or {}), label=str(log_path)) as claim,
                recording(record, rule, params or {}, device=device) as stage,
            ):
                stage.console = console
                warnings.stage = stage
                package_logger.addHandler(warnings)
                if claim is not None:
                    stage.facts["gpu_pool"] = {"slot": claim.slot, "visible_id": claim.visible_id, "gpus": claim.count}
                yield stage
        except SstsalError as exc:
            print(f"error: {exc}", file=log)
            print(f"error: {exc}\n(log: {log_path})", file=console)
            _record_failure(failure, rule, str(exc), log_path, exc)
            sys.stderr = console
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            print("interrupted (Ctrl-C): nothing of this job was kept", file=log)
            sys.stderr = console
            raise SystemExit(130) from None
        except Exception as exc:
            from sstsal.pipeline.library import machine_fault

            machine = machine_fault(exc)
            if machine is None:  # a bug or an unforeseen fault: the traceback says where
                _record_failure(failure, rule, f"{type(exc).__name__}: {exc}", log_path, exc)
                raise
            # the machine's fault (a full disk, ...): one line that says so; the traceback stays in the log
            traceback.print_exc(file=log)
            message = f"{exc} ({machine}: a fault of the machine, not of the video: fix it and run the same command again)"
            print(f"error: {message}", file=log)
            print(f"error: {message}\n(log: {log_path})", file=console)
            _record_failure(failure, rule, f"{type(exc).__name__}: {exc} ({machine})", log_path, exc)
            sys.stderr = console
            raise SystemExit(1) from None
        finally:
            package_logger.removeHandler(warnings)
            logging.getLogger("sstsal.progress").removeHandler(to_console)
            sys.stderr = console


class _WarningsToRecord(logging.Handler):
    """Puts every warning the package logs during a job into the job's record (and on the console)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.stage: StageRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.stage is not None:
            message = record.getMessage()
            self.stage.warn(message.removeprefix("warning: "), logged=True)


def _record_failure(
    failure: Mapping[str, Any] | None, rule: str, reason: str, log_path: str | os.PathLike, exc: BaseException
) -> None:
    """The failure record of the job's video (for the closing table and the next run), saying
    whether ``exc`` was the file's fault or the machine's."""
    if failure is None:
        return
    from sstsal.pipeline.library import fault_of, write_failure

    try:
        write_failure(failure["path"], video=failure["video"], rule=rule, reason=reason, log=str(log_path),
                      source=failure.get("source"), fault=fault_of(exc))  # fmt: skip
    except OSError as exc:  # the job's own error matters more than its record
        print(f"could not write the failure record {failure['path']}: {exc}", file=sys.stderr)


def flow_settings(params) -> FlowSettings:
    """The flow rule's Snakemake ``params`` as :class:`~sstsal.flow.settings.FlowSettings`.

    One mapping for the whole-video and the chunked flow jobs, so their images cannot drift apart.
    """
    from sstsal.flow.settings import FlowSettings

    return FlowSettings.from_params(params)


def flow_job_settings(stage: StageRecord, params) -> FlowSettings:
    """The flow job's settings as it runs them, recorded in its provenance record.

    RAFT runs on the job's device (resolved once, after the GPU claim) with the weights file
    resolved here once, so the engine loads exactly what the record names; DIS and Farneback
    run on the CPU (OpenCV).
    """
    import cv2

    settings = flow_settings(params)
    uses_torch = settings.method in ("raft", "auto")
    settings = settings.on(str(stage.device) if uses_torch else "cpu")
    if settings.method == "raft":
        from sstsal.flow.raft import resolve_checkpoint
        from sstsal.pipeline.provenance import file_facts

        source = resolve_checkpoint(settings.checkpoint)
        weights: dict[str, Any] = {"kind": source.kind, "description": source.description, "path": None}
        if source.path is not None and source.path.is_file():
            weights.update(file_facts(source.path))
            if source.kind != "torchvision":  # torchvision's file: loaded (or downloaded) by its own name
                settings = settings.replace(checkpoint=str(source.path))
        stage.facts.update(engine="torchvision raft_large", weights=weights)
        stage.ran_on(stage.device)
    else:
        engine = {"dis": "OpenCV DISOpticalFlow, medium preset", "farneback": "OpenCV Farneback"}[settings.method]
        stage.facts.update(engine=f"{engine} (OpenCV {cv2.__version__})", weights=None, device="cpu")
    return stage.used(settings)


def inference_job_settings(stage: StageRecord, params) -> InferenceSettings:
    """The inference job's settings as it runs them (the job's device, resolved once after the GPU
    claim; the checkpoint file resolved once), recorded in its provenance record."""
    from sstsal.pipeline.provenance import file_facts

    settings = inference_settings(params)
    settings = settings.replace(device=str(stage.device), checkpoint=str(settings.checkpoint_file()))
    stage.facts.update(checkpoint=file_facts(settings.checkpoint), with_flow=settings.uses_flow)
    stage.ran_on(stage.device)
    return stage.used(settings)


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


def stage_job(job: Any, *, threads: bool = False) -> contextlib.AbstractContextManager[StageRecord]:
    """:func:`job_log` for a workflow ``script:``'s ``snakemake`` object: its log, its outputs,
    its provenance record (output ``record``, when the rule has one) and, with ``threads``, its threads."""
    return job_log(
        job.log[0],
        outputs=job.output,
        threads=job.threads if threads else None,
        record=job.output.get("record"),
        rule=job.rule,
        params=job.params,
        failure=failure_settings(job),
        **gpu_settings(job),
    )


def failure_settings(job) -> dict | None:
    """Where a failed job of a video records why (``results/<video>/failed.json``), with the
    video's source file when the job reads it; None for jobs of no single video."""
    video = job.wildcards.get("video") if hasattr(job.wildcards, "get") else None
    if not video:
        return None
    from sstsal.pipeline.library import RESULTS, failure_path

    source = job.input.get("video") if job.rule != "probe" else (job.input[0] if len(job.input) else None)
    return {"path": failure_path(RESULTS, video), "video": video, "source": source}


def gpu_settings(job) -> dict:
    """A Snakemake job's GPU settings as :func:`job_log` arguments (``**gpu_settings(snakemake)``)."""
    return {
        # a cluster profile may ask for the GPU as --gres=gpu:N instead (gpu: 0 there)
        "gpu": int(job.resources.get("gpu", 0) or 0) or gres_gpus(str(job.resources.get("gres", "") or "")),
        "device": str(job.params.get("device", "cpu")),
        "gpus": job.config.get("gpus", {}),
    }
