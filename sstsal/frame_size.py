"""Frame sizes the package works at: SST-Sal's 320x240 (every 320x240 in the package comes from
here) and the flow's working width (its cap and its minimum are decided here only)."""

from __future__ import annotations

MODEL_WIDTH = 320
MODEL_HEIGHT = 240
MODEL_SIZE = (MODEL_WIDTH, MODEL_HEIGHT)  # (width, height), as OpenCV and ffmpeg take sizes

# The narrowest flow.width: below it DIS and Farneback see only a few pixels of motion (RAFT
# needs 128 after padding, checked where RAFT plans its frames).
MIN_FLOW_WIDTH = 16


def flow_working_width(width: int | None, source_width: int | None) -> int | None:
    """The flow's working width: ``width`` (flow.width) capped by the source's width (upscaling
    adds no detail), the source's width for ``width`` None; None when neither is known."""
    if source_width is None:
        return width
    return source_width if width is None else min(int(width), int(source_width))
