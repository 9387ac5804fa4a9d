"""How much RAFT can do at once and how long it takes: memory per frame pair, the batch size
that fits, refusal before allocating when one pair cannot fit, and a CPU time estimate."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from sstsal.errors import SstsalError


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes needed to compute flow at one padded size: ``fixed + per_pair * batch_size``."""

    padded_height: int
    padded_width: int
    per_pair: int
    fixed: int
    available: int
    batch_size: int

    @property
    def correlation_bytes(self) -> int:
        """The all-pairs correlation volume of one pair (fp32), before its pyramid levels."""
        cells = (self.padded_height // 8) * (self.padded_width // 8)
        return cells * cells * 4


def estimate_pair_bytes(padded_height: int, padded_width: int) -> int:
    """Peak bytes one frame pair adds: the fp32 correlation pyramid and the update loop's tensors.

    The correlation volume has (H/8 * W/8)^2 fp32 entries (4 GiB at 2048x1024); its three
    pooled levels add a third. The correlation lookup, GRU and upsampling tensors are a few
    thousand floats per feature cell; frame encodings are counted in the fixed part.
    """
    cells = (padded_height // 8) * (padded_width // 8)
    pyramid = cells * cells * 4 * (1 + 1 / 4 + 1 / 16 + 1 / 64)
    # lookup (4 levels * 81, a few copies), motion encoder, GRU, mask (576) and its softmax
    update_loop = cells * 6000 * 4
    return int(pyramid + update_loop)


def estimate_fixed_bytes(padded_height: int, padded_width: int, encode_batch: int) -> int:
    """Bytes that do not grow with the batch: weights and the encoders' activations."""
    pixels = padded_height * padded_width
    # the encoders' largest activations: 64 channels at half resolution, a few alive at once
    encoder = encode_batch * pixels // 4 * 64 * 4 * 4
    weights = 64 << 20
    return int(encoder + weights)


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on ``device`` (CUDA: free device memory; CPU: MemAvailable)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


_MAX_VOLUME_ELEMENTS = 2**31 - 1


def plan_memory(
    padded_height: int,
    padded_width: int,
    *,
    available: int,
    batch_size: int | None = None,
    max_batch: int = 16,
    encode_batch: int = 4,
    headroom: float = 0.85,
) -> MemoryPlan:
    """Choose how many pairs to batch at this size, or refuse when even one pair cannot fit.

    ``available`` is the free memory in bytes; ``headroom`` of it is used. A given
    ``batch_size`` is checked rather than chosen.
    """
    per_pair = estimate_pair_bytes(padded_height, padded_width)
    fixed = estimate_fixed_bytes(padded_height, padded_width, encode_batch)
    usable = int(available * headroom)
    fits = (usable - fixed) // per_pair if usable > fixed else 0
    gib = 1 << 30
    # CUDA's pooling kernels index with 32-bit integers: the correlation volume of a batch
    # must stay under 2**31 elements (one pair at 2048x1024 is 2**30), whatever memory is free.
    volume = ((padded_height // 8) * (padded_width // 8)) ** 2
    if volume > _MAX_VOLUME_ELEMENTS:
        raise SstsalError(
            f"RAFT at {padded_width}x{padded_height} (padded) needs a correlation volume of {volume:,} elements per "
            f"frame pair, more than the {_MAX_VOLUME_ELEMENTS:,} PyTorch's pooling kernels can index: lower "
            "flow.width (--width) to at most 2048, or use flow.method dis"
        )
    fits = min(fits, _MAX_VOLUME_ELEMENTS // volume)
    if fits < 1:
        raise SstsalError(
            f"RAFT at {padded_width}x{padded_height} (padded) needs about {(fixed + per_pair) / gib:.1f} GiB for one "
            f"frame pair (the all-pairs correlation alone is {((padded_height // 8) * (padded_width // 8)) ** 2 * 4 / gib:.1f} GiB) "
            f"but only {available / gib:.1f} GiB is free: lower flow.width (--width), use seam 'pad', "
            "or use flow.method dis"
        )
    if batch_size is None:
        batch_size = int(max(1, min(max_batch, fits)))
    elif batch_size > fits:
        raise SstsalError(
            f"a batch of {batch_size} RAFT pairs at {padded_width}x{padded_height} needs about "
            f"{(fixed + per_pair * batch_size) / gib:.1f} GiB but only {available / gib:.1f} GiB is free: "
            f"use a batch size of at most {fits}"
        )
    return MemoryPlan(padded_height, padded_width, per_pair, fixed, available, batch_size)


# Measured with this module on a 2-core x86 machine (fp32, 20 iterations): seconds per pair
# = a * megapixels + b * megapixels^2; the square term is the all-pairs correlation.
# (0.8 s at 512x256, 5.5 s at 1024x512.)
_CPU_SECONDS_PER_MEGAPIXEL = 5.0
_CPU_SECONDS_PER_MEGAPIXEL_SQUARED = 11.0


def estimate_cpu_seconds_per_pair(padded_height: int, padded_width: int, iters: int = 20) -> float:
    """Rough CPU time of one pair: a 2-core measurement scaled to this machine's threads and load.

    Other busy processes share the cores: with a load average of L on C cores this process
    gets about C / (L + 1) of them.
    """
    mp = padded_height * padded_width / 1e6
    seconds = _CPU_SECONDS_PER_MEGAPIXEL * mp * (0.3 + 0.7 * iters / 20) + _CPU_SECONDS_PER_MEGAPIXEL_SQUARED * mp * mp
    threads = max(1, torch.get_num_threads())
    cores = os.cpu_count() or threads
    try:
        share = min(1.0, cores / (os.getloadavg()[0] + 1))
    except OSError:
        share = 1.0
    return seconds * 2 / min(threads, cores) / share


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.2g} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
