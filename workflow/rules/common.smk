# Helpers of the workflow: config validation, video discovery, paths, input functions.
# Stage rules live in their own .smk files and only call what is defined here.

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import sstsal
from sstsal.errors import SstsalError
from sstsal.pipeline.config import coerce_cli_strings

with open(
    workflow.source_path("../schemas/config.schema.yaml"), encoding="utf-8"
) as _schema_file:
    coerce_cli_strings(config, yaml.safe_load(_schema_file))
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
GPU = 1 if ON_CUDA else 0  # resources: gpu=GPU on the flow and inference rules


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
    """auto -> raft on CUDA, dis otherwise; the others as given."""
    if FLOW_METHOD_REQUESTED == "auto":
        return "raft" if ON_CUDA else "dis"
    return FLOW_METHOD_REQUESTED


FLOW_METHOD = resolved_flow_method()
FLOW_GPU = GPU if FLOW_METHOD == "raft" else 0  # DIS and Farneback run on the CPU


# The module whose OUTPUT_VERSION marks each stage's outputs. The params string is keyed by the
# stage name, so moving a module inside the package does not rerun finished jobs.
STAGE_MODULES = {
    "video": "sstsal.media.video",
    "frames": "sstsal.media.frames",
    "flow": "sstsal.flow.engines",
    "validation": "sstsal.pipeline.validation",
    "inference": "sstsal.model.predictor",
    "render": "sstsal.media.render",
    "summary": "sstsal.pipeline.summary",
    "evaluation": "sstsal.evaluation.evaluate",
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
            for n in ("saliency.npz", "contact_sheet.png", "directions.csv")
        ]
        if source is not None:
            outputs.append(result(video, "overlay.mp4"))
    return outputs


onstart:
    # A results folder we cannot write to would fail every job half-way: refuse up front.
    for folder in [Path(RESULTS), Path("logs")]:
        probe_dir = folder if folder.exists() else folder.parent.resolve()
        if not os.access(probe_dir, os.W_OK | os.X_OK):
            raise WorkflowError(
                f"cannot write to {probe_dir.resolve()}: make it writable (chmod u+w) or run the workflow "
                "in another folder (snakemake --directory DIR)"
            )


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
