# What happens around the jobs: checks before the first one (checkpoints, writable folders),
# Ctrl-C, and the refusal of a report without a finished run.

import logging
import os
import signal
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from sstsal.errors import SstsalError

# ---- checks before the first job, Ctrl-C, reports ---------------------------------------------

# Rules whose jobs load each kind of weights (with chunks, the gather rules stand for their chunks).
SSTSAL_RULES = {"inference", "inference_chunk", "gather_saliency"}
RAFT_RULES = {"flow", "flow_chunk", "gather_flow"}


def check_checkpoints(rules_to_run):
    """Every checkpoint the jobs to run need is here, or is downloaded now; else stop naming it."""
    from sstsal.pipeline.preflight import ensure_raft_weights, ensure_sstsal_checkpoint

    found = []
    try:
        if rules_to_run & SSTSAL_RULES:
            found.append(
                ensure_sstsal_checkpoint(
                    config["model"]["checkpoint"], use_flow=USE_FLOW
                )
            )
        if rules_to_run & RAFT_RULES and FLOW_METHOD == "raft" and not BYO_FLOW:
            why = (
                "flow.method auto chose it"
                if FLOW_METHOD_REQUESTED == "auto"
                else "flow.method is raft"
            )
            found.append(
                ensure_raft_weights(
                    config["flow"]["raft_checkpoint"], why=f"the run uses RAFT ({why})"
                )
            )
    except SstsalError as exc:
        stop(exc)
    for checkpoint in found:
        logger.info(f"{checkpoint.role} weights: {checkpoint.path}")


INTERRUPTED = []


def note_interrupt(signum, frame):
    """Remember Ctrl-C (for onerror), then let Snakemake stop its jobs as it always does."""
    INTERRUPTED.append(signum)
    signal.default_int_handler(signum, frame)


def quiet_after_interrupt(record):
    """Logging filter: after Ctrl-C, the jobs cut short are no errors worth a screenful each."""
    return not INTERRUPTED or record.levelno < logging.ERROR


def report_requested():
    """Whether this is `snakemake --report`: the Snakefile is read before Snakemake says so."""
    return any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv[1:])


if report_requested():
    _missing = [path for path in all_outputs() if not Path(path).exists()]
    if _missing:
        stop(
            f"no finished run to report for videos={config['videos']} ({_missing[0]} is missing): give --report "
            "the same --config as the run it should show, or run `snakemake --cores all` with that --config first"
        )


onstart:
    # A results folder we cannot write to would fail every job half-way: refuse up front.
    for folder in [Path(RESULTS), Path("logs")]:
        probe_dir = folder if folder.exists() else folder.parent.resolve()
        if not os.access(probe_dir, os.W_OK | os.X_OK):
            raise WorkflowError(
                f"cannot write to {probe_dir.resolve()}: make it writable (chmod u+w) or run the workflow "
                "in another folder (snakemake --directory DIR)"
            )
    if FLOW_METHOD_REQUESTED == "auto" and USE_FLOW and not BYO_FLOW:
        why = (
            "flow.auto: raft"
            if config["flow"]["auto"] == "raft"
            else ("CUDA available" if ON_CUDA else "no CUDA device here")
        )
        logger.info(f"flow.method auto: {FLOW_METHOD} ({why})")
    check_checkpoints({job.rule.name for job in workflow.dag.needrun_jobs()})
    signal.signal(signal.SIGINT, note_interrupt)
    logger.addFilter(quiet_after_interrupt)


onerror:
    # Ctrl-C: one line on how to go on instead of "At least one job did not complete successfully".
    # SystemExit unwinds through Snakemake's directory lock, which is released as usual.
    if INTERRUPTED:
        print(
            "interrupted: finished outputs are kept; run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(130)
