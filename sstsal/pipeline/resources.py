"""Memory and time requests of the workflow's jobs (the rules' ``mem_mb`` and ``runtime``).

Each rule states its request at the default settings in its ``resources``; these functions scale
it to the job. The stages that hold frames at the flow's working size ask for more when that
size is larger than the default's, and every request grows with the attempt, so a job that
SLURM killed (out of memory, out of time) and Snakemake resubmits (``retries``) asks for more.
"""

from __future__ import annotations

import math

from sstsal.frame_size import flow_working_width

# flow.width's default: the flow stages' base requests in the rules are for frames this wide.
REFERENCE_WIDTH = 2048


def flow_size_factor(width: int | None, source_width: int | None) -> float:
    """How many times the reference frame's pixels the flow stages' frames have, at least 1.

    Frames and flow fields grow with the pixel count, i.e. the square of the width at a fixed
    aspect ratio. Below the reference width the request stays as stated: there the fixed costs
    (Python, torch, the CUDA context, the codec) dominate. An unknown width counts as the
    reference until it is known.
    """
    working = flow_working_width(width, source_width)
    if working is None:
        return 1.0
    return max(1.0, (working / REFERENCE_WIDTH) ** 2)


def scaled_request(base: int, attempt: int = 1, factor: float = 1.0) -> int:
    """``base`` (MB or minutes) times the size ``factor`` and the ``attempt`` (1 for the first
    submission), rounded up to a whole unit."""
    if attempt < 1:
        raise ValueError(f"attempt {attempt}: Snakemake counts attempts from 1")
    if base <= 0 or factor <= 0:
        raise ValueError(f"request {base} x {factor}: both must be positive")
    return math.ceil(base * factor) * attempt
