"""The 360-degree viewer page: one self-contained HTML file that plays the video on a sphere
with the saliency heatmap on top, and follows the director's path on request.

Chromium refuses a video read from a file:// URL as a WebGL texture (SecurityError) but
accepts a ``data:`` URI, so the page carries its own compact encode: one H.264 video, the
source (top half) above its saliency map as grey (bottom half, interpolated between the
sampled frames), so the two stay in step and the shader colours the map. The saliency maxima,
the director's path and the colormap travel as JSON. No network, no library: plain WebGL 1.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sstsal.atomic import write_text
from sstsal.errors import InputError, SstsalError
from sstsal.media.render import colormap_lut
from sstsal.media.video import VideoInfo, ffmpeg_exe, probe_video, view_stream
from sstsal.viewing.camera import CameraPath, normalised_maps
from sstsal.viewing.director import read_maps
from sstsal.viewing.summary import salient_direction

logger = logging.getLogger(__name__)

# Bump when a change alters viewer.html (triggers reruns through workflow params).
OUTPUT_VERSION = 1

PATH_ROWS_PER_SECOND = 10  # the director's path in the page: smooth, so 10 rows a second suffice


@dataclass(frozen=True)
class ViewerSettings:
    """The page's own encode and look (config section ``viewer``)."""

    width: int = 1024  # equirectangular width of the embedded video (its height is the same: two halves)
    crf: int = 30
    preset: str = "medium"
    audio_kbps: int = 64  # 0 = no sound
    alpha: float = 0.5  # initial heatmap opacity
    colormap: str = "inferno"

    def __post_init__(self) -> None:
        if self.width < 64 or self.width % 4:
            raise InputError(f"viewer.width must be a multiple of 4, at least 64, got {self.width}")
        if not 0 <= self.crf <= 51:
            raise InputError(f"viewer.crf must be between 0 and 51, got {self.crf}")
        if not 0 <= self.alpha <= 1:
            raise InputError(f"viewer.alpha must be between 0 and 1, got {self.alpha}")
        if self.audio_kbps < 0:
            raise InputError(f"viewer.audio_kbps must be 0 or more, got {self.audio_kbps}")


def _saliency_frame(maps01: np.ndarray, frames: np.ndarray, n: int, size: tuple[int, int]) -> np.ndarray:
    """The grey (H, W) uint8 map of source frame ``n``: linear between the sampled frames around it."""
    import cv2

    k = int(np.clip(np.searchsorted(frames, n, side="right") - 1, 0, len(frames) - 1))
    grey = maps01[k]
    if k + 1 < len(frames) and n > frames[k]:
        w = (n - frames[k]) / (frames[k + 1] - frames[k])
        grey = (1 - w) * maps01[k] + w * maps01[k + 1]
    return cv2.resize(np.round(grey * 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)


def encode_stacked(
    video: str | Path, stack: str | Path, out_mp4: str | Path, *, settings: ViewerSettings, info: VideoInfo,
    progress: bool = True,
) -> int:
    """The viewer's video: source on top, saliency grey below, (width x width), H.264 + AAC. Returns frames."""
    maps, frames = read_maps(stack)
    maps01 = normalised_maps(maps)
    half = (settings.width, settings.width // 2)
    decoder = (
        view_stream(video, info, size=half)[0]
        .output("pipe:", format="rawvideo", pix_fmt="bgr24", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{half[0]}x{2 * half[1]}", "-framerate", info.rate, "-i", "pipe:"]  # fmt: skip
    if info.has_audio and settings.audio_kbps > 0:
        cmd += ["-i", str(video), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", f"{settings.audio_kbps}k", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(settings.crf), "-preset", settings.preset,
            "-movflags", "+faststart", "-f", "mp4", str(out_mp4)]  # fmt: skip
    encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    frame_bytes = half[0] * half[1] * 3
    bar = tqdm(total=info.frame_count, desc=f"viewer {Path(video).stem}", unit="frame", disable=not progress,
               file=sys.stderr, mininterval=2.0)  # fmt: skip
    written = 0
    try:
        while True:
            buffer = decoder.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            top = np.frombuffer(buffer, np.uint8).reshape(half[1], half[0], 3)
            grey = _saliency_frame(maps01, frames, written, half)
            encoder.stdin.write(np.concatenate([top, np.repeat(grey[..., None], 3, axis=2)]).tobytes())
            written += 1
            bar.update()
    finally:
        bar.close()
        encoder.stdin.close()
        decoder.stdout.close()
        encoder.wait()
        decoder.wait()
    if decoder.returncode != 0 or encoder.returncode != 0 or written == 0:
        raise SstsalError(
            f"encoding the viewer's video failed (decoder exit {decoder.returncode}, encoder exit "
            f"{encoder.returncode}, {written} frames): see ffmpeg's messages above"
        )
    return written


def page_data(stack: str | Path, path: CameraPath, info: VideoInfo, settings: ViewerSettings) -> dict:
    """What the page's script reads: saliency maxima, the director's path, the colormap."""
    maps, frames = read_maps(stack)
    peaks = []
    for saliency, frame in zip(maps, frames):
        yaw, pitch, _, _ = salient_direction(saliency.astype(np.float32))
        peaks.append([round(frame / info.fps, 3), round(yaw, 1), round(pitch, 1)])
    step = max(1, round(info.fps / PATH_ROWS_PER_SECOND))
    keep = np.zeros(len(path), bool)
    keep[::step] = True
    keep[-1] = True
    keep[np.flatnonzero(path.cut)] = True  # the frame a cut lands on and the one before it
    keep[np.maximum(np.flatnonzero(path.cut) - 1, 0)] = True
    director = [[round(float(path.time_s[i]), 3), round(float(path.yaw[i]), 2), round(float(path.pitch[i]), 2),
                 int(path.cut[i])] for i in np.flatnonzero(keep)]  # fmt: skip
    lut_rgb = colormap_lut(settings.colormap)[:, ::-1]
    return {
        "video": Path(info.path).stem,
        "duration": info.frame_count / info.fps,
        "fps": info.fps,
        "alpha": settings.alpha,
        "audio": bool(info.has_audio and settings.audio_kbps > 0),
        "encodeHeight": settings.width,
        "fov": path.fov,
        "peaks": peaks,
        "director": director,
        "lut": base64.b64encode(np.ascontiguousarray(lut_rgb).tobytes()).decode("ascii"),
    }


def render_page(title: str, video_bytes: bytes, data: dict) -> str:
    """The HTML of the page around the encoded video and its data."""
    template = resources.files("sstsal.viewing").joinpath("viewer.html").read_text(encoding="utf-8")
    data_json = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # never closes the script tag
    uri = "data:video/mp4;base64," + base64.b64encode(video_bytes).decode("ascii")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return template.replace("__TITLE__", safe_title).replace("__DATA__", data_json).replace("__VIDEO_URI__", uri)


def make_viewer(
    video: str | Path,
    stack: str | Path,
    director_csv: str | Path,
    out_html: str | Path,
    *,
    settings: ViewerSettings = ViewerSettings(),
    info: VideoInfo | None = None,
    progress: bool = True,
) -> int:
    """Write ``viewer.html`` for ``video``; returns its size in bytes."""
    video, out_html = Path(video), Path(out_html)
    info = info or probe_video(video)
    path = CameraPath.read_csv(director_csv)
    data = page_data(stack, path, info, settings)  # checks the inputs before the encode
    with tempfile.TemporaryDirectory(prefix="sstsal-viewer-") as scratch:  # the encode lives only inside the page
        encode = Path(scratch) / "viewer.mp4"
        encode_stacked(video, stack, encode, settings=settings, info=info, progress=progress)
        video_bytes = encode.read_bytes()
    write_text(out_html, render_page(video.stem, video_bytes, data))
    size = out_html.stat().st_size
    logger.info("%s: %.2f MB (its video %.2f MB, %dx%d, crf %s)", out_html, size / 1e6, len(video_bytes) / 1e6,
                settings.width, settings.width, settings.crf)  # fmt: skip
    return size
