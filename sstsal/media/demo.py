"""A short synthetic equirectangular clip, so that ``make run`` works on an empty folder.

A latitude/longitude grid room with two balls drawn in true equirectangular projection (their
discs stretch towards the poles), one circling the viewer along the horizon and crossing the
left/right seam, one bobbing up and down; a sine tone as audio. Small on purpose: the whole
workflow with ``flow.method: auto`` (DIS on a CPU) finishes in a few minutes on a laptop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ffmpeg
import numpy as np

from sstsal.atomic import atomic_file
from sstsal.media.video import VIDEO_SUFFIXES, ffmpeg_exe

logger = logging.getLogger(__name__)

DEMO_NAME = "sstsal_demo.mp4"


def _directions(width: int, height: int) -> np.ndarray:
    """Unit view vectors (H, W, 3) of the pixel centres of an equirectangular frame."""
    yaw = ((np.arange(width) + 0.5) / width * 2 - 1) * np.pi
    pitch = (0.5 - (np.arange(height) + 0.5) / height) * np.pi
    yaw, pitch = np.meshgrid(yaw, pitch)
    return np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)], axis=-1)


def _ball(dirs: np.ndarray, yaw: float, pitch: float, radius_deg: float) -> np.ndarray:
    """(H, W) mask of the pixels within ``radius_deg`` of the direction (yaw, pitch) in radians."""
    centre = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    return dirs @ centre > np.cos(np.radians(radius_deg))


def demo_frames(width: int = 512, height: int = 256, fps: int = 24, seconds: float = 5.0) -> np.ndarray:
    """The demo clip's frames, uint8 (N, H, W, 3) in BGR."""
    dirs = _directions(width, height)
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    room = np.empty((height, width, 3), np.uint8)
    room[:] = np.where(y < height // 2, 150, 90)[..., None]  # walls above the horizon, floor below
    room[(x % (width // 16) == 0) | (y % (height // 8) == 0)] = (60, 60, 60)  # a 22.5-degree grid
    frames = []
    for t in np.arange(int(seconds * fps)) / fps:
        frame = room.copy()
        frame[_ball(dirs, -np.pi + 1.2 * t * np.pi / 2.5, 0.1, 14)] = (40, 40, 230)  # red, crosses the seam
        frame[_ball(dirs, np.pi / 2, 0.6 * np.sin(2 * np.pi * t / 2.5), 10)] = (230, 160, 40)  # blue, bobbing
        frames.append(frame)
    return np.stack(frames)


def write_demo_clip(path: str | Path, *, fps: int = 24, seconds: float = 5.0) -> Path:
    """Encode the demo clip (H.264 + AAC tone) at ``path``, atomically."""
    frames = demo_frames(fps=fps, seconds=seconds)
    count, height, width = frames.shape[:3]
    with atomic_file(path) as tmp:
        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{width}x{height}", framerate=fps)
        tone = ffmpeg.input(f"sine=frequency=440:duration={seconds}", f="lavfi")
        (
            ffmpeg.output(video, tone, str(tmp), vcodec="libx264", pix_fmt="yuv420p", crf=18, acodec="aac",
                          f="mp4", movflags="+faststart")  # fmt: skip
            .global_args("-hide_banner", "-nostdin", "-v", "error")
            .overwrite_output()
            .run(cmd=ffmpeg_exe(), input=frames.tobytes())
        )
    return Path(path)


def ensure_demo_data(folder: str | Path) -> bool:
    """Write the demo clip into ``folder`` when it holds no videos.

    Returns True when the folder's only video is the demo clip (just written or from an earlier
    run), i.e. when the run should use the demo's CPU-friendly settings.
    """
    folder = Path(folder)
    videos = sorted(p.name for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
    if videos == [DEMO_NAME]:
        logger.info("%s holds only the demo clip %s: running the demo", folder, DEMO_NAME)
        return True
    if videos:
        logger.info("%s holds %d video(s); not writing the demo clip", folder, len(videos))
        return False
    path = write_demo_clip(folder / DEMO_NAME)
    logger.info(
        "%s had no videos: wrote a 5-second synthetic equirectangular demo clip %s and will run it "
        "with flow.method auto (RAFT on a GPU, DIS otherwise); put your own videos there to process them",
        folder,
        path,
    )
    return True
