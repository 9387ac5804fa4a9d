"""Frame extraction: decode a video with ffmpeg, keep the sampled frames, resize, write PNGs.

The pixels the model sees must equal the published loader's: ffmpeg's ``rawvideo``/``bgr24``
output is bit-identical to OpenCV's ``VideoCapture`` frames, and the resize to model size is
``cv2.resize(..., INTER_AREA)`` from the *source* resolution. Frames are never stored at full
source resolution (a long 8K video would need 100 GB of PNGs): each caller asks for one size.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from sstsal.atomic import atomic_directory, write_image, write_text
from sstsal.errors import InputError
from sstsal.frame_size import MODEL_SIZE, flow_working_width
from sstsal.logs import progress_bar
from sstsal.media.naming import frame_name
from sstsal.media.video import VideoInfo, ffmpeg_exe, input_options, probe_video

logger = logging.getLogger(__name__)

# Bump when a change alters the extracted frames (triggers reruns through workflow params).
OUTPUT_VERSION = 3

PUBLISHED_FPS = 8  # the published extraction keeps about 8 frames per second
SAMPLINGS = ("published", "exact")


def published_step(fps: float) -> int:
    """Keep every ``round(fps / 8)``-th decoded frame, as the published extraction does.

    Python's round (half to even) as in the published code; at least 1 for very low rates.
    """
    return max(1, round(fps / PUBLISHED_FPS))


def exact_indices(fps: float, target_fps: float, frame_count: int) -> list[int]:
    """Source frame indices nearest to the instants k / target_fps, k = 0, 1, ...

    Frame n is shown from n / fps on; the frame chosen for instant t is floor(t * fps + 0.5).
    When target_fps >= fps every frame is kept once.
    """
    if target_fps <= 0:
        raise InputError(f"extract.fps must be positive, got {target_fps}")
    ratio = fps / target_fps
    indices: list[int] = []
    for k in range(int(math.ceil(frame_count / ratio)) + 1):
        n = math.floor(k * ratio + 0.5)
        if n >= frame_count:
            break
        if not indices or n > indices[-1]:
            indices.append(n)
    return indices


def sample_indices(info: VideoInfo, sampling: str = "published", target_fps: float = PUBLISHED_FPS) -> list[int]:
    """The source frame indices a sampling keeps, for a video with ``info.frame_count`` frames."""
    if sampling == "published":
        return list(range(0, info.frame_count, published_step(info.fps)))
    if sampling == "exact":
        return exact_indices(info.fps, target_fps, info.frame_count)
    raise InputError(f"unknown sampling {sampling!r}: use one of {', '.join(SAMPLINGS)}")


def extraction_size(info: VideoInfo, width: int | None) -> tuple[int, int]:
    """(width, height) at most ``width`` wide (see :func:`sstsal.frame_size.flow_working_width`) at the
    aspect of the equirectangular view (the source's for a mono equirectangular video), even."""
    view_w, view_h = info.view_width, info.view_height
    target = flow_working_width(width, view_w)
    return _even(target), _even(target * view_h / view_w)


def _even(value: float) -> int:
    """The nearest even size of at least 2 (codecs and RAFT's padding like even sizes)."""
    return max(2, int(round(value / 2)) * 2)


def decode_frames(
    video: str | Path, info: VideoInfo, indices: list[int], *, select_in_ffmpeg: bool
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (source index, BGR uint8 (H, W, 3) frame) for the wanted source frames, in order.

    With ``select_in_ffmpeg`` (a regular step starting at 0) ffmpeg's ``select`` filter keeps
    the frames, so only those cross the pipe; otherwise every frame is piped and picked here.
    Frames come out as the mono equirectangular SDR view of ``info.layout`` (eye, projection,
    pose, tone mapping), ``info.view_width`` x ``info.view_height``. ffmpeg's own messages go to
    stderr (the job's log).
    """
    stream = ffmpeg.input(str(video), **input_options(info))
    step = indices[1] - indices[0] if len(indices) > 1 else 1
    selected = select_in_ffmpeg and step > 1
    if selected:
        stream = stream.filter("select", f"not(mod(n,{step}))")
    for name, options in info.layout.filters():
        stream = stream.filter(name, **options)
    # passthrough: one output frame per decoded frame, never duplicated or dropped by ffmpeg
    proc = (
        stream.output("pipe:", format="rawvideo", pix_fmt="bgr24", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    width, height = info.view_width, info.view_height
    frame_bytes = width * height * 3
    wanted = iter(indices)
    target = next(wanted, None)
    received = 0
    try:
        while target is not None:
            buffer = proc.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            index = received * step if selected else received
            received += 1
            if index == target:
                yield index, np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
                target = next(wanted, None)
    finally:
        if proc.poll() is None:
            proc.kill()  # every wanted frame is in (or the consumer stopped): no need to decode on
        proc.stdout.close()
        proc.wait()


def extract_frames(
    video: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    size: tuple[int, int] | None = MODEL_SIZE,
    width: int | None = None,
    sampling: str = "published",
    target_fps: float = PUBLISHED_FPS,
    manifest: str | Path | None = None,
    info: VideoInfo | None = None,
    progress: bool = True,
) -> list[str]:
    """Write the sampled frames of ``video`` as ``out_dir/<name>_<source index>.png``.

    size: exact (width, height) (default the model's 320x240); or None and ``width``: at most
    that wide at the source aspect (the flow stage's working size). Every frame is resized with
    INTER_AREA from the decoded source frame. The folder appears only when complete. With
    ``manifest``, also writes a JSON record of the video facts, the sampling and the frame names.
    Returns the frame file names.
    """
    video = Path(video)
    name = name or video.stem
    info = info or probe_video(video)
    indices = sample_indices(info, sampling, target_fps)
    out_size = size if size is not None else extraction_size(info, width)
    names: list[str] = []
    with atomic_directory(out_dir) as tmp:
        bar = progress_bar(len(indices), f"frames {name} {out_size[0]}x{out_size[1]}", disable=not progress)
        for index, frame in decode_frames(video, info, indices, select_in_ffmpeg=sampling == "published"):
            image = frame if (frame.shape[1], frame.shape[0]) == out_size else cv2.resize(
                frame, out_size, interpolation=cv2.INTER_AREA
            )
            filename = frame_name(name, index)
            write_image(tmp / filename, image)  # a full disk raises its own OSError (ENOSPC)
            names.append(filename)
            bar.update()
        bar.close()
        if not names:
            raise InputError(
                f"no frame came out of ffmpeg for {video} ({info.layout.filter_string()} on its "
                f"{info.width}x{info.height} frames): see ffmpeg's message above; if the sample sheet sets its "
                "projection or stereo, check them"
            )
        if len(names) < len(indices):
            # The packet count promised more frames than the decoder gave: say so, keep going.
            logger.warning(
                "warning: %s: %d of %d sampled frames could not be decoded (the end of the file is damaged); "
                "using the frames before that",
                video.name,
                len(indices) - len(names),
                len(indices),
            )
    if manifest is not None:
        record = {
            "video": name,
            "source": asdict(info),
            "sampling": sampling,
            "target_fps": target_fps if sampling == "exact" else None,
            "step": published_step(info.fps) if sampling == "published" else None,
            "size": list(out_size),
            "indices": [int(n.rsplit("_", 1)[1][:-4]) for n in names],
            "names": names,
        }
        write_text(manifest, json.dumps(record, indent=1, ensure_ascii=False))
    return names


def read_manifest(path: str | Path) -> dict:
    """The JSON record ``extract_frames(manifest=...)`` wrote."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
