# Devices, GPUs and the memory and time each job asks for (threads are in each rule).

import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from sstsal.errors import SstsalError
from sstsal.pipeline.resources import flow_size_factor, scaled_request

# ---- cluster submissions -----------------------------------------------------------------


def job_group(name):
    """The `group:` of a stage (config `job_groups`): on a cluster, a video's light steps travel
    with its heavy ones in three submissions, "frames" (probe and both extractions), "saliency" (flow,
    validation, inference: one GPU) and "views" (overlay, summary, director's cut, viewer,
    provenance); Snakemake sums the requests of the steps that run side by side and adds up the
    times of those that run one after the other. Off (None): one submission per stage. Local
    runs ignore groups."""
    return name if config["job_groups"] else None


# ---- devices and methods ------------------------------------------------------------------


def cuda_available():
    """Whether torch sees a CUDA device here (imports torch only when asked)."""
    import torch

    return torch.cuda.is_available()


DEVICE = config["model"]["device"]
ON_CUDA = DEVICE.startswith("cuda") or (DEVICE == "auto" and cuda_available())
GPU = 1 if ON_CUDA else 0  # gpu_request(GPU) on the flow and inference rules


def pool_gpu_count():
    """The GPUs the local jobs share: gpus.count, or every GPU found here (1 for a pinned cuda:N)."""
    from sstsal.pipeline.gpus import gpu_count

    if ":" in DEVICE:
        return 1  # cuda:N pins every job to that GPU
    if config["gpus"]["count"]:
        return int(config["gpus"]["count"])
    try:
        return max(1, gpu_count())
    except SstsalError as exc:
        raise WorkflowError(str(exc)) from None


GPU_COUNT = pool_gpu_count() if ON_CUDA else 0


def use_every_gpu():
    """Local runs on CUDA: as many GPU jobs at once as GPUs (times gpus.jobs_per_gpu), unless
    --resources gpu=N says otherwise. Each job takes its own GPU from a lock-file pool
    (sstsal.pipeline.gpus) of GPU_COUNT GPUs, which local jobs read from the environment
    (POOL_COUNT_ENV; set here, where the scheduler resolved it, since asking CUDA in a job
    before it claims its GPU would initialise CUDA there). On a cluster (nodes set) the
    scheduler hands out GPUs; nothing is registered."""
    from sstsal.pipeline.gpus import POOL_COUNT_ENV

    if not ON_CUDA:
        return
    os.environ[POOL_COUNT_ENV] = str(GPU_COUNT)
    if workflow.global_resources["_nodes"].value is not None:
        return
    given = workflow.global_resources.get("gpu")
    per_gpu = config["gpus"]["jobs_per_gpu"]
    if given is None or given.value is None:
        workflow.register_resource("gpu", GPU_COUNT * per_gpu)
        print(
            f"GPU jobs at once: {GPU_COUNT * per_gpu} ({GPU_COUNT} GPU(s) x {per_gpu} job(s) each)",
            file=sys.stderr,
        )
    else:
        print(
            f"GPU jobs at once: {given.value} (--resources gpu), on {GPU_COUNT} GPU(s)",
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
    """The width of the video's equirectangular view (the source's for a mono equirectangular
    video) from its probe record; None before the probe ran, and with bring-your-own frames
    (whose size need not be the source's)."""
    if BYO_FRAMES:
        return None
    try:
        info = json.loads(Path(prefixed(result(video, "video.json"))).read_text())
        return int((info.get("spherical") or {}).get("view_size", [info["width"]])[0])
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
