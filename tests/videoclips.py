"""Small generated video clips for the tests of the video, frames, render and workflow stages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def moving_frames(width: int, height: int, count: int, seed: int = 0) -> np.ndarray:
    """(count, H, W, 3) uint8 BGR frames: a textured background and a bright square moving right."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), np.uint8))[:height, :width]
    frames = np.repeat(background[None], count, axis=0).copy()
    side = max(8, height // 4)
    for i in range(count):
        x = (i * max(1, width // count) * 2) % (width - side)
        frames[i, height // 3 : height // 3 + side, x : x + side] = (40, 220, 250)
    return frames


def make_clip(
    path: str | os.PathLike,
    *,
    width: int = 256,
    height: int = 128,
    fps: int = 12,
    seconds: float = 2.0,
    audio: bool = False,
    faststart: bool = False,
    seed: int = 0,
) -> Path:
    """Encode ``moving_frames`` as H.264 (yuv420p) with the bundled ffmpeg; optional sine audio."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = int(round(fps * seconds))
    frames = moving_frames(width, height, count, seed)
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
           "-framerate", str(fps), "-i", "pipe:"]  # fmt: skip
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        cmd += ["-f", "mp4" if path.suffix.lower() != ".mov" else "mov"]
    cmd += [str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def make_audio_only(path: str | os.PathLike, seconds: float = 1.0) -> Path:
    path = Path(path)
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:a", "aac", "-f", "mp4", str(path)],
        check=True,
    )  # fmt: skip
    return path


def truncate(src: str | os.PathLike, dst: str | os.PathLike, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of a file's bytes, like an interrupted download."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def decode_opencv(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame as OpenCV's VideoCapture returns it (the published loader's reader)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def shared_dir() -> Path:
    """The test data (``SSTSAL_SHARED``, ../shared or the built cache, see tests/testdata.py): read-only
    data that tests may use but never copy into the repo."""
    from testdata import data_root

    return data_root()
