"""Segments of a video's time line, and its saliency maps read one segment at a time.

A segment ``k`` of length ``L`` seconds holds the source frames whose time ``frame / fps`` lies in
``[k * L, (k + 1) * L)``: segments are aligned to the video's time (as DASH segments are), the
last one is shorter when the video's length is not a multiple of ``L``. A map belongs to the
segment of its source frame (the number at the end of its name).

:func:`segment_maps` is the one place that reads a store of maps; everything else receives one
segment's maps at a time.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sstsal.errors import InputError
from sstsal.media.naming import parse_frame_name
from sstsal.media.saliency_stack import open_stack


@dataclass(frozen=True)
class Segment:
    """Segment ``index``: source frames ``start_frame`` (inclusive) to ``stop_frame`` (exclusive)."""

    index: int
    start_frame: int
    stop_frame: int
    fps: float

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def end_s(self) -> float:
        return self.stop_frame / self.fps

    @property
    def frames(self) -> int:
        return self.stop_frame - self.start_frame


def video_segments(frame_count: int, fps: float, segment_s: float) -> list[Segment]:
    """The segments of a video of ``frame_count`` frames at ``fps``; frame ``n`` is in the segment of
    time ``n / fps``, so every segment but the last has ``segment_s * fps`` frames, rounded per boundary."""
    if fps <= 0 or frame_count < 1:
        raise InputError(f"cannot cut {frame_count} frames at {fps} fps into segments: probe the video again")
    if segment_s * fps < 1:
        raise InputError(f"a segment of {segment_s} s holds no frame at {fps:g} fps: give at least {1 / fps:.3g} s")
    count = math.floor((frame_count - 1) / fps / segment_s + 1e-9) + 1  # the last frame's segment, and those before
    # the first frame at or after k * segment_s (1e-9: a boundary on a frame's time belongs to it)
    starts = [min(frame_count, math.ceil(k * segment_s * fps - 1e-9)) for k in range(count)] + [frame_count]
    return [Segment(k, a, b, fps) for k, (a, b) in enumerate(zip(starts[:-1], starts[1:]))]


def map_frames(names: list[str]) -> np.ndarray:
    """Source frame numbers of map names ``<video>_<number>`` (stems or ``.png`` file names)."""
    try:
        return np.array([parse_frame_name(n if n.endswith(".png") else f"{n}.png").number for n in names], dtype=int)
    except InputError:
        raise InputError(f"saliency map names must end in _<source frame number>, got e.g. {names[:2]}") from None


def segment_maps(source: str | Path, segments: list[Segment]) -> Iterator[tuple[Segment, np.ndarray, np.ndarray]]:
    """(segment, its maps float32 (n, H, W), their source frames (n,)) for every segment, in order.

    ``source``: a saliency stack (the workflow's ``saliency.npz``, ``sstsal predict --save-raw``'s
    raw.npz) or a folder of map images ``<video>_<number>.png`` (8- or 16-bit, as ``sstsal
    groundtruth`` writes ground truth). A segment without a map gets an empty array (n = 0).
    A folder is read one segment at a time; a stack through
    :func:`sstsal.media.saliency_stack.open_stack`, one segment's window at a time.
    """
    source = Path(source)
    if source.is_dir():
        files = sorted((p for p in source.iterdir() if p.suffix.lower() == ".png"), key=lambda p: map_frames([p.name])[0])
        if not files:
            raise InputError(f"{source} holds no maps <video>_<number>.png: give the ground-truth maps folder of the video")
        frames = map_frames([p.name for p in files])

        def read(index: np.ndarray) -> np.ndarray:
            maps = [cv2.imread(str(files[i]), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH) for i in index]
            if any(m is None for m in maps):
                raise InputError(f"cannot read a map of {source}: replace the broken PNG")
            maps = [m if m.ndim == 2 else m[..., 0] for m in maps]
            return np.stack(maps).astype(np.float32) if maps else np.zeros((0, 1, 1), np.float32)

        for segment in segments:
            index = np.flatnonzero((frames >= segment.start_frame) & (frames < segment.stop_frame))
            yield segment, read(index), frames[index]
        return
    if not source.is_file():
        raise InputError(f"saliency maps {source} do not exist: run the workflow (or sstsal predict --save-raw) first")
    try:
        stack = open_stack(source)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read saliency stack {source} ({exc}): give the workflow's saliency.npz") from None
    with stack:
        if len(stack) == 0:
            raise InputError(f"{source} holds no saliency maps")
        frames = stack.frames  # ascending: the stack is in frame order
        for segment in segments:
            index = np.flatnonzero((frames >= segment.start_frame) & (frames < segment.stop_frame))
            maps = stack.window(int(index[0]), int(index[-1]) + 1) if len(index) else np.zeros((0, *stack.shape))
            yield segment, maps.astype(np.float32), frames[index]
