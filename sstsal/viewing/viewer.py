"""The 360-degree viewer page: one self-contained HTML file that plays the video on a sphere
with the saliency heatmap on top, and follows the director's path on request.

Chromium refuses a video read from a file:// URL as a WebGL texture (SecurityError) but
accepts a ``data:`` URI, so the page carries its own compact encode: one H.264 video, the
source (top half) above its saliency map as grey (bottom half, interpolated between the
sampled frames), so the two stay in step and the shader colours the map. The saliency maxima,
the director's path and the colormap travel as JSON. No network, no library: plain WebGL 1.

The Snakemake report shows an HTML result in an iframe whose ``src`` is the whole page as a
base64 ``data:`` URL, and Chromium refuses URLs over 2 MiB: a page of a real-length video
stays blank there. :func:`make_report_viewer` writes a second, lighter page for the report,
whose encode (smaller, fewer frames per second, no sound, a bitrate chosen from the duration)
keeps the page under :data:`REPORT_PAGE_BYTES` for a video of any length.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
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

# Chromium's limit on a URL is 2 MiB (2,097,152 characters); the report's data: URL is the page in
# base64 (4 characters per 3 bytes) after a short prefix, so a page of at most 1.5 MB fits.
CHROMIUM_URL_LIMIT = 2 * 1024 * 1024
REPORT_PAGE_BYTES = 1_500_000
REPORT_FPS = 15.0  # the report's encode: at most this many frames a second
REPORT_WIDTHS = (768, 512, 384, 256, 192, 128)  # the largest whose bits per pixel stay above REPORT_MIN_BPP
REPORT_MIN_BPP = 0.05


@dataclass(frozen=True)
class ViewerSettings:
    """The page's own encode and look (config section ``viewer``)."""

    width: int = 1024  # equirectangular width of the embedded video (its height is the same: two halves)
    crf: int = 30
    preset: str = "medium"
    audio_kbps: int = 64  # 0 = no sound
    alpha: float = 0.5  # initial heatmap opacity
    colormap: str = "inferno"
    video_kbps: int | None = None  # a cap on the bitrate (the report's page, of bounded size)
    fps: float | None = None  # at most this many frames a second (None: the source's rate)

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
    fewer = settings.fps is not None and settings.fps < info.fps
    rate = f"{settings.fps:g}" if fewer else info.rate
    step = info.fps / settings.fps if fewer else 1.0  # source frames per encoded frame
    stream = view_stream(video, info, size=half)[0]
    if fewer:
        stream = stream.filter("fps", fps=rate)
    decoder = (
        stream
        .output("pipe:", format="rawvideo", pix_fmt="bgr24", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{half[0]}x{2 * half[1]}", "-framerate", rate, "-i", "pipe:"]  # fmt: skip
    if info.has_audio and settings.audio_kbps > 0:
        cmd += ["-i", str(video), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", f"{settings.audio_kbps}k", "-shortest"]
    quality = ["-crf", str(settings.crf)]
    if settings.video_kbps:  # crf as usual, capped: a short video stays small, a long one within its budget
        quality += ["-maxrate", f"{settings.video_kbps}k", "-bufsize", f"{settings.video_kbps * 2}k"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", *quality, "-preset", settings.preset,
            "-movflags", "+faststart", "-f", "mp4", str(out_mp4)]  # fmt: skip
    encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    frame_bytes = half[0] * half[1] * 3
    bar = tqdm(total=int(info.frame_count / step), desc=f"viewer {Path(video).stem}", unit="frame",
               disable=not progress, file=sys.stderr, mininterval=2.0)  # fmt: skip
    written = 0
    try:
        while True:
            buffer = decoder.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            top = np.frombuffer(buffer, np.uint8).reshape(half[1], half[0], 3)
            grey = _saliency_frame(maps01, frames, round(written * step), half)
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
    report_html: str | Path | None = None,
) -> int:
    """Write ``viewer.html`` for ``video`` (and, given ``report_html``, the report's lighter page,
    :func:`make_report_viewer`); returns the size of ``viewer.html`` in bytes."""
    video, out_html = Path(video), Path(out_html)
    info = info or probe_video(video)
    path = CameraPath.read_csv(director_csv)
    data = page_data(stack, path, info, settings)  # checks the inputs before the encode
    video_bytes = _encode(video, stack, settings, info, progress)
    write_text(out_html, render_page(video.stem, video_bytes, data))
    size = out_html.stat().st_size
    logger.info("%s: %.2f MB (its video %.2f MB, %dx%d, crf %s)", out_html, size / 1e6, len(video_bytes) / 1e6,
                settings.width, settings.width, settings.crf)  # fmt: skip
    if report_html is not None:
        make_report_viewer(video, stack, director_csv, report_html, settings=settings, info=info, progress=progress)
    return size


def _encode(video: Path, stack: str | Path, settings: ViewerSettings, info: VideoInfo, progress: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="sstsal-viewer-") as scratch:  # the encode lives only inside the page
        encode = Path(scratch) / "viewer.mp4"
        encode_stacked(video, stack, encode, settings=settings, info=info, progress=progress)
        return encode.read_bytes()


def report_encoding(duration_s: float, fps: float, budget_bytes: int, settings: ViewerSettings) -> ViewerSettings:
    """The report page's encode: no sound, at most :data:`REPORT_FPS`, a bitrate that spends
    ``budget_bytes`` over ``duration_s``, and the largest of :data:`REPORT_WIDTHS` (up to
    ``settings.width``) that still gets :data:`REPORT_MIN_BPP` bits per pixel."""
    rate = min(fps, REPORT_FPS)
    kbps = max(1, int(budget_bytes * 8 / max(duration_s, 0.1) / 1000))
    widths = [w for w in REPORT_WIDTHS if w <= settings.width] or [REPORT_WIDTHS[-1]]
    width = next((w for w in widths if kbps * 1000 / (w * w * rate) >= REPORT_MIN_BPP), widths[-1])
    return replace(settings, width=width, fps=rate, video_kbps=kbps, audio_kbps=0)


def make_report_viewer(
    video: str | Path,
    stack: str | Path,
    director_csv: str | Path,
    out_html: str | Path,
    *,
    settings: ViewerSettings = ViewerSettings(),
    info: VideoInfo | None = None,
    progress: bool = True,
    limit: int = REPORT_PAGE_BYTES,
) -> int:
    """The viewer page for the Snakemake report: the same page around an encode sized so the page
    stays under ``limit`` bytes (see the module docstring). An encode that comes out too large is
    redone at a proportionally lower bitrate (x264's rate cap is not a strict bound). A video too
    long for any encode to fit gets a page saying where the full viewer is. Returns the page's size.
    """
    video, out_html = Path(video), Path(out_html)
    info = info or probe_video(video)
    path = CameraPath.read_csv(director_csv)
    duration = info.frame_count / info.fps
    empty = len(render_page(video.stem, b"", page_data(stack, path, info, settings)).encode())
    budget = int((limit - empty) * 3 / 4 * 0.9)  # the video goes in as base64; 10% for x264's overshoot
    page = ""
    for _ in range(4):
        if budget < 20_000:
            break
        report = report_encoding(duration, info.fps, budget, settings)
        video_bytes = _encode(video, stack, report, info, progress)
        page = render_page(video.stem, video_bytes, page_data(stack, path, info, report))
        size = len(page.encode())
        logger.info("%s: %.2f MB (%dx%d at %g fps, %d kbps; the report's limit is %.2f MB)", out_html, size / 1e6,
                    report.width, report.width, report.fps, report.video_kbps, limit / 1e6)  # fmt: skip
        if size <= limit:
            break
        budget = int(budget * (limit - empty) / (size - empty) * 0.9)
        page = ""
    if not page:
        logger.warning(
            "%s is too long for a viewer inside the report (%.0f s): the report links to results/%s/viewer.html "
            "instead", video.name, duration, video.stem,
        )  # fmt: skip
        page = _pointer_page(video.stem)
    write_text(out_html, page)
    return Path(out_html).stat().st_size


def _pointer_page(name: str) -> str:
    safe = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<!doctype html><meta charset=\"utf-8\"><title>SST-Sal viewer: {safe}</title>"
            f"<p>This video is too long for a viewer inside the report. Open <code>results/{safe}/viewer.html</code> "
            "from the results folder: it holds the whole video.</p>\n")  # fmt: skip
