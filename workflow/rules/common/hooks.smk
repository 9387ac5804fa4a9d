# What happens around the jobs: checks before the first one (checkpoints, writable folders),
# Ctrl-C, the closing table of every run, and a report of whatever finished.

import json
import logging
import os
import re
import signal
import sys
from pathlib import Path

from snakemake.common import NOTHING_TO_BE_DONE_MSG
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


def on_slurm():
    """Whether the jobs go to SLURM (profiles/slurm: executor slurm)."""
    plugin = getattr(workflow, "executor_plugin", None)
    return not workflow.local_exec and getattr(plugin, "name", None) == "slurm"


def check_slurm_requests(jobs):
    """Under SLURM: stop when a job (or a job group) to submit asks for more than any node of its
    partition offers (such a job would pend for ever while snakemake says nothing)."""
    from sstsal.pipeline.slurm_fit import job_request, slurm_nodes, unfit_request

    requests = set()
    for job in jobs:
        # a step of a job group (job_groups) goes out in its group's submission, with its
        # group's summed request: a group of steps that fit one by one may not fit together
        group = workflow.dag.get_job_group(job)
        if group is not None:
            names = ", ".join(sorted({j.rule.name for j in group.jobs}))
            requests.add(
                job_request(names, group.threads, group.resources, group=group.groupid)
            )
        elif not job.is_local:
            requests.add(job_request(job.rule.name, job.threads, job.resources))
    if not requests:
        return
    try:
        problem = unfit_request(
            sorted(requests, key=lambda r: (r.rule, r.mem_mb)), slurm_nodes()
        )
    except SstsalError as exc:
        stop(exc)
    if problem:
        stop(problem)


def check_slurm_arrays(jobs):
    """Under SLURM with array jobs (slurm-array-jobs): the plugin holds back the ready jobs of
    an array rule when Snakemake hands over fewer of them than are ready, and never submits
    them (snakemake-executor-plugin-slurm issue 473): the run would stall for ever once
    `jobs` is smaller than the jobs to submit. Stop before that, saying what to set."""
    setting = getattr(workflow.executor_settings, "array_jobs", None) or ""
    chosen = {r.strip() for r in str(setting).replace(";", ",").split(",") if r.strip()}
    submitted = [job for job in jobs if not job.is_local]
    arrays = sorted(
        {
            job.rule.name
            for job in submitted
            if "all" in chosen or job.rule.name in chosen
        }
    )
    limit = workflow.global_resources["_nodes"].value
    if arrays and limit is not None and len(submitted) > limit:
        stop(
            f"this run submits {len(submitted)} SLURM jobs with jobs: {limit}, and {', '.join(arrays)} "
            "go to SLURM as array jobs (slurm-array-jobs), which stall when jobs is smaller than the jobs "
            f"to submit: run with --jobs {len(submitted)} (arrays keep the sbatch calls few), or without "
            "arrays: --slurm-array-jobs none (docs/cluster.md, A thousand videos)"
        )


def recorded_flow_method(video):
    """The flow method of a finished flow of ``video`` (its provenance record), else None."""
    for stage in ("flow", "gather_flow"):
        record = Path(prefixed(result(video, f"provenance/{stage}.json")))
        if record.is_file():
            try:
                return json.loads(record.read_text())["params"]["method"]
            except (OSError, ValueError, KeyError, TypeError):
                return None
    return None


def note_flow_reruns():
    """flow.method auto resolved to another method than the finished flows used (e.g. RAFT under
    profiles/slurm, whose flow.auto is raft, after local DIS runs): say so, also in a dry run,
    since Snakemake's "params changed" alone does not tell why."""
    if FLOW_METHOD_REQUESTED != "auto" or not USE_FLOW or BYO_FLOW:
        return
    finished = {video: recorded_flow_method(video) for video in VIDEOS}
    other = sorted(
        v for v, method in finished.items() if method and method != FLOW_METHOD
    )
    if other:
        why = (
            "flow.auto: raft, set by the cluster profile (profiles/slurm/auto-flow.yaml)"
            if config["flow"]["auto"] == "raft" and not ON_CUDA
            else ("CUDA available" if ON_CUDA else "no CUDA device here")
        )
        methods = sorted({finished[v] for v in other})
        print(
            f"note: flow.method auto means {FLOW_METHOD} in this run ({why}), but the flow of "
            f"{len(other)} finished video(s) ({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}) "
            f"was computed with {', '.join(methods)}: their flow and everything after it will be recomputed. "
            f"To keep them, run with --config 'flow={{method: {methods[0]}}}'",
            file=sys.stderr,
        )


note_flow_reruns()


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


def closing_rows():
    """The outcome of every video of the folder (sstsal.pipeline.library.outcomes)."""
    from sstsal.pipeline.library import left_out_rows, outcomes

    return outcomes(
        VIDEOS, SKIPPED, outputs=video_outputs, results=RESULTS
    ) + left_out_rows(LEFT_OUT)


def report_bytes():
    """The size of the finished videos' files marked for the report
    (sstsal.pipeline.library.report_suggestion turns it into the report's size)."""
    from snakemake.io import is_flagged

    # a rule's output pattern carries the wildcard's constraint: results/{video,<regex>}/overlay.mp4
    patterns = [
        str(o)
        for r in workflow.rules
        for o in r.output
        if is_flagged(o, "report") and str(o).startswith(f"{RESULTS}/{{video")
    ]
    files = [
        Path(re.sub(r"\{video[^}]*\}", lambda _: video, p))
        for video in VIDEOS
        for p in patterns
    ]
    return sum(f.stat().st_size for f in files if f.is_file())


def print_closing_table():
    """The end of every run: videos finished (with warnings), failed (reason, log), skipped."""
    from sstsal.pipeline.library import report_suggestion, run_table

    rows = closing_rows()
    print(f"\n{run_table(rows)}", file=sys.stderr, flush=True)
    if any(r.status == "finished" for r in rows):
        print(report_suggestion(report_bytes()), file=sys.stderr, flush=True)


def table_when_nothing_to_do(record):
    """Logging filter: a run with nothing to do gets its closing table too (Snakemake calls no
    onsuccess then)."""
    if record.getMessage() == NOTHING_TO_BE_DONE_MSG and not workflow.dryrun:
        print_closing_table()
    return True


logger.addFilter(table_when_nothing_to_do)


if report_requested():
    # A report of whatever finished: the others are listed on its front page with the reason.
    from sstsal.pipeline.library import report_text

    _rows = closing_rows()
    _finished = {r.video for r in _rows if r.status == "finished"}
    if not _finished:
        stop(
            f"no finished run to report for videos={config['videos']} (no video of it finished): give --report the same --config as the "
            "run it should show, or run `snakemake --cores all` with that --config first"
        )
    for _video in [v for v in VIDEOS if v not in _finished]:
        del VIDEOS[_video]
    _front = Path(".snakemake", "sstsal", "report.rst").resolve()
    _front.parent.mkdir(parents=True, exist_ok=True)
    _front.write_text(
        f"{{% raw %}}\n{report_text(_rows)}\n{{% endraw %}}\n", encoding="utf-8"
    )
    workflow.report(str(_front))


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
    if on_slurm():
        check_slurm_requests(workflow.dag.needrun_jobs())
        check_slurm_arrays(workflow.dag.needrun_jobs())
    signal.signal(signal.SIGINT, note_interrupt)
    logger.addFilter(quiet_after_interrupt)


onsuccess:
    print_closing_table()


onerror:
    # Ctrl-C: one line on how to go on instead of "At least one job did not complete successfully".
    # SystemExit unwinds through Snakemake's directory lock, which is released as usual.
    if not INTERRUPTED:
        print_closing_table()
    if INTERRUPTED:
        print(
            "interrupted: finished outputs are kept; run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(130)
