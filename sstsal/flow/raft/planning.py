"""How much RAFT can do at once and how long it takes: memory per frame pair, the batch size
that fits, refusal before allocating when one pair cannot fit, and a CPU time estimate."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from sstsal.errors import InputError, SstsalError


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes needed to compute flow at one padded size: ``fixed + per_pair * batch_size``."""

    padded_height: int
    padded_width: int
    per_pair: int
    fixed: int
    available: int
    batch_size: int
    encode_batch: int = 4

    @property
    def correlation_bytes(self) -> int:
        """The all-pairs correlation volume of one pair (fp32), before its pyramid levels."""
        cells = (self.padded_height // 8) * (self.padded_width // 8)
        return cells * cells * 4


def _activation_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def estimate_pair_bytes(padded_height: int, padded_width: int, precision: str = "fp32") -> int:
    """Peak bytes one frame pair adds: the fp32 correlation pyramid and the update loop's tensors.

    The correlation volume has (H/8 * W/8)^2 fp32 entries (4 GiB at 2048x1024); its three
    pooled levels add a third. The correlation lookup, GRU and upsampling tensors are a few
    thousand floats per feature cell; frame encodings are counted in the fixed part. Under
    bf16/fp16 autocast the update block's tensors take half; the pyramid and the lookup
    stay fp32 (as in the published mixed-precision code).
    """
    cells = (padded_height // 8) * (padded_width // 8)
    pyramid = cells * cells * 4 * (1 + 1 / 4 + 1 / 16 + 1 / 64)
    # lookup (4 levels * 81, a few copies; fp32), then motion encoder, GRU, mask (576) and softmax
    update_loop = cells * (1500 * 4 + 4500 * _activation_bytes(precision))
    return int(pyramid + update_loop)


def estimate_fixed_bytes(padded_height: int, padded_width: int, encode_batch: int, precision: str = "fp32") -> int:
    """Bytes that do not grow with the batch: weights and the encoders' activations."""
    pixels = padded_height * padded_width
    # the encoders' largest activations: 64 channels at half resolution, a few alive at once
    encoder = encode_batch * pixels // 4 * 64 * _activation_bytes(precision) * 4
    weights = 64 << 20
    return int(encoder + weights)


SIMULATED_FREE_GIB = "SSTSAL_SIMULATED_FREE_GIB"


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on ``device`` (CUDA: free device memory; CPU: MemAvailable).

    ``SSTSAL_SIMULATED_FREE_GIB`` replaces the answer (tests of small GPUs on any machine).
    """
    simulated = os.environ.get(SIMULATED_FREE_GIB)
    if simulated:
        try:
            return int(float(simulated) * (1 << 30))
        except ValueError:
            raise InputError(f"{SIMULATED_FREE_GIB}={simulated!r}: give a number of GiB, e.g. 7.5") from None
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


def one_pair_bytes(padded_height: int, padded_width: int, precision: str = "fp32") -> int:
    """The least a single pair needs: encoders one frame at a time."""
    return estimate_fixed_bytes(padded_height, padded_width, 1, precision) + estimate_pair_bytes(
        padded_height, padded_width, precision
    )


def largest_fitting_width(
    padded_height: int, padded_width: int, *, available: int, precision: str, headroom: float = 0.85
) -> int | None:
    """The largest flow width (a multiple of 64, same aspect) whose one pair fits, or None."""
    for width in range(padded_width // 64 * 64, 127, -64):
        height = max(8, round(padded_height * width / padded_width / 8) * 8)
        if one_pair_bytes(height, width, precision) <= available * headroom:
            return width
    return None


def plan_memory(
    padded_height: int,
    padded_width: int,
    *,
    available: int,
    batch_size: int | None = None,
    max_batch: int = 16,
    encode_batch: int = 4,
    precision: str = "fp32",
    headroom: float = 0.85,
    device: str = "cuda",
) -> MemoryPlan:
    """Choose how many pairs to batch at this size, or refuse when even one pair cannot fit.

    ``available`` is the free memory in bytes; ``headroom`` of it is used. A given
    ``batch_size`` is checked rather than chosen. When memory is short the encoders take
    fewer frames at a time (down to one) before a pair is refused; the refusal says what one
    pair needs and what to lower (flow.width to a size that fits, flow.precision).
    """
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
    per_pair = estimate_pair_bytes(padded_height, padded_width, precision)
    usable = int(available * headroom)
    fits = 0
    for encode in sorted({max(1, encode_batch), 2, 1}, reverse=True):
        if encode > max(1, encode_batch):
            continue
        fixed = estimate_fixed_bytes(padded_height, padded_width, encode, precision)
        fits = (usable - fixed) // per_pair if usable > fixed else 0
        if fits >= 1:
            encode_batch = encode
            break
    fits = min(fits, _MAX_VOLUME_ELEMENTS // volume)
    if fits < 1:
        needed = one_pair_bytes(padded_height, padded_width, precision)
        advice = []
        width = largest_fitting_width(padded_height, padded_width, available=available, precision=precision)
        if width is not None:
            advice.append(f"lower flow.width (--width) to {width} or less")
        if precision == "fp32":
            half = one_pair_bytes(padded_height, padded_width, "bf16")
            if half <= usable:
                advice.append(f"set flow.precision bf16 (--precision bf16; about {half / gib:.1f} GiB)")
        other = "free the GPU of other programs" if device.startswith("cuda") else "close other programs"
        advice.append(f"{other}, or use flow.method dis")
        raise SstsalError(
            f"RAFT at {padded_width}x{padded_height} (padded, {precision}) needs about {needed / gib:.1f} GiB for one "
            f"frame pair (the all-pairs correlation alone is {volume * 4 / gib:.1f} GiB) but {device} has only "
            f"{available / gib:.1f} GiB free (about {usable / gib:.1f} GiB usable): " + "; ".join(advice)
        )
    if batch_size is None:
        batch_size = int(max(1, min(max_batch, fits)))
    elif batch_size > fits:
        raise SstsalError(
            f"a batch of {batch_size} RAFT pairs at {padded_width}x{padded_height} needs about "
            f"{(fixed + per_pair * batch_size) / gib:.1f} GiB but only {available / gib:.1f} GiB is free: "
            f"use a batch size of at most {fits}"
        )
    return MemoryPlan(padded_height, padded_width, per_pair, fixed, available, batch_size, encode_batch)


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
