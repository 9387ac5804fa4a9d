# Helpers of the workflow: config validation, video discovery, paths, input functions.
# Stage rules live in their own .smk files and only call what is defined here.

import ast
import importlib.util
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

import sstsal
from sstsal.errors import SstsalError
from sstsal.pipeline.config import check_config, coerce_cli_strings
from sstsal.pipeline.resources import flow_size_factor, scaled_request


def stop(message):
    """End the run before any job with one ``error:`` line (no Snakemake traceback)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


with open(
    workflow.source_path("../schemas/config.schema.yaml"), encoding="utf-8"
) as _schema_file:
    _schema = yaml.safe_load(_schema_file)
coerce_cli_strings(config, _schema)
# Unknown keys (typos such as `vidoes`) and bad values stop the run in one line, before any job;
# snakemake's validate below only fills in the defaults then.
try:
    check_config(config, _schema)
except SstsalError as exc:
    stop(exc)
validate(config, schema="../schemas/config.schema.yaml")


# ---- where things are ---------------------------------------------------------------------

RESULTS = "results"
BYO_FRAMES = config["inputs"]["frames"]
BYO_FLOW = config["inputs"]["flow"]
FLOW_METHOD_REQUESTED = config["flow"]["method"]
USE_FLOW = FLOW_METHOD_REQUESTED != "none"

if BYO_FLOW and not BYO_FRAMES:
    raise WorkflowError(
        "config inputs.flow needs inputs.frames too: give the frames the flow images belong to"
    )
if BYO_FLOW and not USE_FLOW:
    raise WorkflowError(
        "config inputs.flow is set but flow.method is none: drop one of them"
    )


def find_videos():
    """{video id: source video path or None}: the wildcard values of this run."""
    from sstsal.media.video import discover_videos

    try:
        if BYO_FRAMES:
            folder = Path(BYO_FRAMES)
            if not folder.is_dir():
                raise WorkflowError(f"inputs.frames folder {folder} does not exist")
            ids = sorted(
                p.name
                for p in folder.iterdir()
                if p.is_dir() and not p.name.startswith(".")
            )
            if not ids:
                raise WorkflowError(
                    f"inputs.frames folder {folder} has no subfolders: expected one folder of frames per video "
                    "(frames/<video>/<video>_<number>.png)"
                )
            sources = {}
            if Path(config["videos"]).is_dir():
                try:
                    sources = {
                        k: str(v) for k, v in discover_videos(config["videos"]).items()
                    }
                except SstsalError:
                    sources = {}
            return {video: sources.get(video) for video in ids}
        return {
            video: str(path)
            for video, path in discover_videos(config["videos"]).items()
        }
    except SstsalError as exc:
        raise WorkflowError(str(exc)) from None


VIDEOS = find_videos()


wildcard_constraints:
    video="|".join(re.escape(v) for v in sorted(VIDEOS, key=len, reverse=True)),


# ---- devices and methods ------------------------------------------------------------------


def cuda_available():
    """Whether torch sees a CUDA device here (imports torch only when asked)."""
    import torch

    return torch.cuda.is_available()


DEVICE = config["model"]["device"]
ON_CUDA = DEVICE.startswith("cuda") or (DEVICE == "auto" and cuda_available())
GPU = 1 if ON_CUDA else 0  # gpu_request(GPU) on the flow and inference rules


def use_every_gpu():
    """Local runs on CUDA: as many GPU jobs at once as GPUs (times gpus.jobs_per_gpu), unless
    --resources gpu=N says otherwise. Each job takes its own GPU from a lock-file pool
    (sstsal.pipeline.gpus), reading the GPU count resolved here from config["gpus"]["count"].
    On a cluster (nodes set) the scheduler hands out GPUs; nothing is registered."""
    from sstsal.pipeline.gpus import gpu_count

    if not ON_CUDA:
        return
    if ":" in DEVICE:
        config["gpus"]["count"] = 1  # cuda:N pins every job to that GPU
    elif not config["gpus"]["count"]:
        try:
            config["gpus"]["count"] = max(1, gpu_count())
        except SstsalError as exc:
            raise WorkflowError(str(exc)) from None
    if workflow.global_resources["_nodes"].value is not None:
        return
    given = workflow.global_resources.get("gpu")
    count, per_gpu = config["gpus"]["count"], config["gpus"]["jobs_per_gpu"]
    if given is None or given.value is None:
        workflow.register_resource("gpu", count * per_gpu)
        print(
            f"GPU jobs at once: {count * per_gpu} ({count} GPU(s) x {per_gpu} job(s) each)",
            file=sys.stderr,
        )
    else:
        print(
            f"GPU jobs at once: {given.value} (--resources gpu), on {count} GPU(s)",
            file=sys.stderr,
        )


use_every_gpu()


def resolved_flow_method():
    """auto -> raft on CUDA (or where flow.auto says raft: clusters), dis otherwise; the others as given."""
    if FLOW_METHOD_REQUESTED == "auto":
        return "raft" if ON_CUDA or config["flow"]["auto"] == "raft" else "dis"
    return FLOW_METHOD_REQUESTED


FLOW_METHOD = resolved_flow_method()
FLOW_GPU = GPU if FLOW_METHOD == "raft" else 0  # DIS and Farneback run on the CPU


def gpu_request(here):
    """The resource function of a GPU stage's ``gpu``: ``here`` (1 or 0, from this machine's
    CUDA) when the jobs run on this machine; 1 under a cluster executor (profiles/slurm), whose
    jobs run on the cluster's GPU nodes whatever the login node has. Asked when each job is
    scheduled, because the executor is set only after the workflow is read."""

    def request(wildcards):
        return here if workflow.local_exec else 1

    return request


# ---- memory and time of each job (threads are in each rule) -------------------------------
# Each rule states its request for the default settings (mem_mb in MB, runtime in minutes, i.e.
# SLURM's --mem and --time). These resource functions scale it with the attempt, so a job
# resubmitted after SLURM killed it (retries in profiles/slurm) asks for more, and for the flow
# stages with the flow's working size; see sstsal.pipeline.resources.


def per_attempt(base):
    """``base`` MB or minutes at the first attempt, twice that at the second, and so on."""

    def request(wildcards, attempt):
        return scaled_request(base, attempt)

    return request


def probed_width(video):
    """The source video's width from its probe record; None before the probe ran, and with
    bring-your-own frames (whose size need not be the source's)."""
    if BYO_FRAMES:
        return None
    try:
        return int(json.loads(Path(result(video, "video.json")).read_text())["width"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def flow_sized(base):
    """``base`` at flow.width 2048, scaled by the pixels of the flow's working size (flow.width
    capped by the probed source width) and by the attempt: for the stages that hold those frames.
    """

    def request(wildcards, attempt):
        factor = flow_size_factor(
            config["flow"]["width"], probed_width(wildcards.video)
        )
        return scaled_request(base, attempt, factor)

    return request


# The module whose OUTPUT_VERSION marks each stage's outputs. The params string is keyed by the
# stage name, so moving a module inside the package does not rerun finished jobs.
STAGE_MODULES = {
    "video": "sstsal.media.video",
    "frames": "sstsal.media.frames",
    "flow": "sstsal.flow.engines",
    "validation": "sstsal.pipeline.validation",
    "inference": "sstsal.model.predictor",
    "render": "sstsal.media.render",
    "summary": "sstsal.viewing.summary",
    "evaluation": "sstsal.evaluation.evaluate",
    "camera": "sstsal.viewing.camera",
    "director": "sstsal.viewing.director",
    "viewer": "sstsal.viewing.viewer",
}


def stage_version(stage):
    """ "<package version>/<stage>-<OUTPUT_VERSION>": a params value that changes when a stage's
    output changes, read from the source without importing the module (torch stays unloaded).
    """
    spec = importlib.util.find_spec(STAGE_MODULES[stage])
    number = "0"
    if spec is not None and spec.origin:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "OUTPUT_VERSION" for t in node.targets
            ):
                number = str(ast.literal_eval(node.value))
    return f"{sstsal.__version__}/{stage}-{number}"


# ---- paths of each stage -------------------------------------------------------------------


def result(video, name):
    return f"{RESULTS}/{video}/{name}"


def source_video(wildcards):
    path = VIDEOS[wildcards.video]
    if path is None:
        raise WorkflowError(
            f"no source video for {wildcards.video} in {config['videos']}"
        )
    return path


def model_frames(wildcards):
    """The folder of 320x240 frames the model reads (or the bring-your-own frames)."""
    if BYO_FRAMES:
        return str(Path(BYO_FRAMES) / wildcards.video)
    return result(wildcards.video, "frames")


def flow_source_frames(wildcards):
    """The frames the flow engine reads: extracted at the working width, or bring-your-own."""
    if BYO_FRAMES:
        return str(Path(BYO_FRAMES) / wildcards.video)
    return result(wildcards.video, "flow_frames")


def flow_images(wildcards):
    """[] without flow; the flow folder otherwise (bring-your-own or computed)."""
    if not USE_FLOW:
        return []
    if BYO_FLOW:
        return str(Path(BYO_FLOW) / wildcards.video)
    return result(wildcards.video, "flow")


def frames_manifest(wildcards):
    """The extraction record ([] with bring-your-own frames)."""
    return [] if BYO_FRAMES else result(wildcards.video, "frames.json")


def video_info(wildcards):
    """The probe record ([] when a bring-your-own video has no source file)."""
    return (
        [] if VIDEOS[wildcards.video] is None else result(wildcards.video, "video.json")
    )


def all_outputs():
    """Every final file of every video (the overlay needs the source video)."""
    outputs = []
    for video, source in VIDEOS.items():
        outputs += [
            result(video, n)
            for n in (
                "saliency.npz",
                "contact_sheet.png",
                "directions.csv",
                "provenance.json",
            )
        ]
        if source is not None:
            outputs.append(result(video, "overlay.mp4"))
    return outputs


# ---- provenance (rule in provenance.smk; records written by sstsal.pipeline.job.stage_job) ----


def stage_record(stage):
    """The provenance record a stage's job writes next to its outputs."""
    return result("{video}", f"provenance/{stage}.json")


def stage_records(wildcards):
    """The records of every stage that runs for this video."""
    video, source = wildcards.video, VIDEOS[wildcards.video]
    stages = ["validate", "inference", "summary"]
    if source is not None:
        stages += ["probe", "render"]
        if config["director"]["enabled"]:
            stages += ["director_path", "director"]
        if config["viewer"]["enabled"]:
            stages += ["director_path", "viewer"]
    if not BYO_FRAMES:
        stages += ["extract_frames"]
    if USE_FLOW and not BYO_FLOW:
        stages += ["flow"] + ([] if BYO_FRAMES else ["extract_flow_frames"])
    return [result(video, f"provenance/{stage}.json") for stage in sorted(set(stages))]


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


# ---- chunks of long videos (config chunk_frames; rules in chunks.smk) ---------------------

CHUNK_FRAMES = int(config.get("chunk_frames") or 0)


def chunk_labels(wildcards):
    """The video's chunk labels ("<start>-<stop>"), known once its frames exist (checkpoint)."""
    from sstsal.pipeline.chunks import read_plan

    return read_plan(checkpoints.chunk_plan.get(video=wildcards.video).output.plan)


def flow_chunk_dirs(wildcards):
    return [
        result(wildcards.video, f"chunks/flow/{label}")
        for label in chunk_labels(wildcards)
    ]


def saliency_chunk_dirs(wildcards):
    return [
        result(wildcards.video, f"chunks/saliency/{label}")
        for label in chunk_labels(wildcards)
    ]


# ---- ways to see the result (rules in viewing.smk) ------------------------------------------

# The camera's settings as one params value: any change reruns the path, the cut and the viewer.
DIRECTOR_CAMERA = {
    key: config["director"][key]
    for key in (
        "fov",
        "smoothing_s",
        "max_speed",
        "max_accel",
        "response_s",
        "dead_zone",
        "switch_margin",
        "cut_angle",
        "cut_after_s",
        "max_pitch",
    )
}


def viewing_outputs():
    """director.mp4 / viewer.html (and director.csv) of every video with a source file, as enabled."""
    names = (["director.mp4"] if config["director"]["enabled"] else []) + (
        ["viewer.html"] if config["viewer"]["enabled"] else []
    )
    if names:
        names.append("director.csv")
    return [
        result(video, name)
        for video, source in VIDEOS.items()
        if source is not None
        for name in names
    ]


def flow_chunk_records(wildcards):
    return [
        result(wildcards.video, f"chunks/records/flow/{label}.json")
        for label in chunk_labels(wildcards)
    ]


def saliency_chunk_records(wildcards):
    return [
        result(wildcards.video, f"chunks/records/saliency/{label}.json")
        for label in chunk_labels(wildcards)
    ]
