"""Every GPU of a workstation used: one GPU job per GPU, each pinned to its own.

Snakemake limits how many GPU jobs run at once (the global resource ``gpu``, set by the
workflow to the number of GPUs times ``gpus.jobs_per_gpu``); which GPU a job gets is decided
here, inside the job, from a pool of lock files under ``.snakemake/gpu-pool/``: one per slot,
slot ``s`` on GPU ``s % count``. A job takes a free slot with ``fcntl.flock`` and sets
``CUDA_VISIBLE_DEVICES`` to that GPU before CUDA is initialised, so ``cuda`` in the job is
its own GPU. The kernel drops a flock when its process dies, so a killed job (SIGKILL, OOM
killer) frees its GPU; nothing has to be cleaned up.

``SSTSAL_SIMULATED_GPUS=N`` makes the workflow and the pool believe there are N GPUs (tests on
machines without one).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sstsal.errors import InputError

logger = logging.getLogger(__name__)

POOL_DIR = Path(".snakemake") / "gpu-pool"
SIMULATED = "SSTSAL_SIMULATED_GPUS"
# The GPU count the workflow resolved where it schedules, handed to its local jobs.
POOL_COUNT_ENV = "SSTSAL_GPU_POOL_COUNT"


def simulated_gpus() -> int | None:
    """N from ``SSTSAL_SIMULATED_GPUS`` (None when unset)."""
    value = os.environ.get(SIMULATED)
    if not value:
        return None
    if not value.isdigit():
        raise InputError(f"{SIMULATED}={value!r}: give a number of GPUs, e.g. 2")
    return int(value)


def gpu_count() -> int:
    """GPUs this process may use (CUDA_VISIBLE_DEVICES respected); 0 without CUDA.

    For the process that schedules jobs: it asks torch, which initialises CUDA's driver here.
    """
    simulated = simulated_gpus()
    if simulated is not None:
        return simulated
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class GpuClaim:
    """The GPU a job holds: its index among the usable GPUs and the ID given to CUDA."""

    index: int
    count: int
    visible_id: str
    slot: int


# CUDA_VISIBLE_DEVICES as it was before the outermost claim of this process (claims can nest
# in one process, e.g. in tests; each job process normally holds one).
_before_claims: list[str | None] = []


def _visible_ids(count: int) -> list[str]:
    """The IDs to put in CUDA_VISIBLE_DEVICES for GPUs 0..count-1 (a user's own list is kept)."""
    given = _before_claims[0] if _before_claims else os.environ.get("CUDA_VISIBLE_DEVICES")
    if given:
        ids = [part.strip() for part in given.split(",") if part.strip()]
        if len(ids) >= count:
            return ids[:count]
    return [str(i) for i in range(count)]


def gpu_name(visible_id: str) -> str:
    """The GPU's name from nvidia-smi (no CUDA context here), or a placeholder."""
    if simulated_gpus() is not None:
        return "simulated GPU"
    if shutil.which("nvidia-smi") is None:
        return "name unknown"
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", visible_id],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "name unknown"
    return out.stdout.strip() or "name unknown"


@contextlib.contextmanager
def claim_gpu(
    count: int,
    *,
    jobs_per_gpu: int = 1,
    pool_dir: str | os.PathLike = POOL_DIR,
    label: str = "",
    poll_seconds: float = 0.2,
) -> Iterator[GpuClaim]:
    """Hold a free slot of the pool for the ``with`` block; ``CUDA_VISIBLE_DEVICES`` names its GPU.

    Waits while every slot is held (Snakemake's ``gpu`` resource normally prevents that). The
    lock file records the holder's pid and ``label`` for whoever wonders which job has a GPU.
    """
    if count < 1:
        raise InputError(f"a GPU job needs at least one GPU; {count} found: use model.device cpu")
    if jobs_per_gpu < 1:
        raise InputError(f"gpus.jobs_per_gpu must be at least 1, not {jobs_per_gpu}")
    pool = Path(pool_dir)
    pool.mkdir(parents=True, exist_ok=True)
    ids = _visible_ids(count)
    slots = count * jobs_per_gpu
    waited = False
    while True:
        for slot in range(slots):
            handle = open(pool / f"slot{slot}.lock", "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()} {label}\n")
                handle.flush()
                index = slot % count
                claim = GpuClaim(index=index, count=count, visible_id=ids[index], slot=slot)
                previous = os.environ.get("CUDA_VISIBLE_DEVICES")
                _before_claims.append(previous)
                os.environ["CUDA_VISIBLE_DEVICES"] = claim.visible_id
                try:
                    yield claim
                finally:
                    _before_claims.pop()
                    if previous is None:
                        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                    else:
                        os.environ["CUDA_VISIBLE_DEVICES"] = previous
                    handle.seek(0)
                    handle.truncate()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if not waited:
            logger.info("all %d GPU slot(s) are held by other jobs: waiting for one", slots)
            waited = True
        time.sleep(poll_seconds)


@contextlib.contextmanager
def job_gpu(gpu: int, device: str, gpus_config: dict, *, label: str = "") -> Iterator[GpuClaim | None]:
    """The GPU of one workflow job, from its ``resources: gpu`` and the config's ``gpus``.

    No claim for a job without ``gpu``, with an explicit ``cuda:N`` device (the user pinned
    it), or under SLURM (the cluster gives each job its own GPUs). Must run before torch
    initialises CUDA in this process.
    """
    if not gpu or ":" in str(device) or os.environ.get("SLURM_JOB_ID"):
        if gpu:
            logger.info("GPU: %s (CUDA_VISIBLE_DEVICES=%s)", device, os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        yield None
        return
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("claim the GPU before CUDA is initialised: CUDA_VISIBLE_DEVICES is read only once")
    # the workflow resolves the count where it schedules (asking torch here would initialise CUDA)
    count = int(gpus_config.get("count") or os.environ.get(POOL_COUNT_ENV) or 1)
    with claim_gpu(count, jobs_per_gpu=int(gpus_config.get("jobs_per_gpu") or 1), label=label) as claim:
        logger.info(
            "GPU %d of %d (%s; CUDA_VISIBLE_DEVICES=%s, pool slot %d)",
            claim.index, claim.count, gpu_name(claim.visible_id), claim.visible_id, claim.slot,
        )  # fmt: skip
        yield claim
