"""The 360-degree viewer page: an HTML page that plays the video on a sphere with the saliency
heatmap on top, and follows the director's path on request.

The page plays one H.264 video, ``viewer.mp4``: the source (top half) above its saliency map as
grey (bottom half, interpolated between the sampled frames), so the two stay in step and the
shader colours the map; the heatmap of the current time arrives with the frame it belongs to.
The saliency maxima, the director's path and the colormap travel as JSON. No network, no
library: plain WebGL 1.

Chromium refuses a video read from a ``file://`` URL as a WebGL texture (SecurityError) but
accepts a ``data:`` URI, so a page whose video is at most ``viewer.embed_mb`` carries it inside
itself as base64 and opens from disk, offline, as one file. Above that size a browser no longer
loads the page comfortably, so the page stays small (its size does not grow with the video) and
plays ``viewer.mp4`` and reads ``viewer.json`` (maxima and path) from beside itself, through the
local server of :mod:`sstsal.viewing.serve` (``sstsal view results/NAME``), which answers the
Range requests a browser makes to seek. The maps are read one at a time from the ``saliency/``
folder (one 8-bit PNG per sampled frame) and the page is written in pieces, so the job's memory
does not grow with the video.

The Snakemake report shows an HTML result in an iframe whose ``src`` is the whole page as a
base64 ``data:`` URL, and Chromium refuses URLs over 2 MiB. :func:`make_report_viewer` writes a
second, lighter page for the report: the first :data:`REPORT_PREVIEW_S` seconds (the whole video
when it is shorter), in an encode (smaller, fewer frames per second, no sound, a bitrate chosen
from the duration) that keeps the page under :data:`REPORT_PAGE_BYTES`.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TextIO

import numpy as np

from sstsal.atomic import atomic_file, write_text
from sstsal.errors import InputError, SstsalError
from sstsal.logs import progress_bar
from sstsal.media.naming import frame_name, list_frames
from sstsal.media.render import colormap_lut
from sstsal.media.video import VideoInfo, ffmpeg_exe, probe_video, view_stream
from sstsal.viewing.camera import normalised_maps
from sstsal.viewing.director import open_saliency_stack
from sstsal.viewing.summary import salient_direction

logger = logging.getLogger(__name__)

# Bump when a change alters viewer.html (triggers reruns through workflow params).
OUTPUT_VERSION = 2

PATH_ROWS_PER_SECOND = 10  # the director's path in the page: smooth, so 10 rows a second suffice

# Chromium's limit on a URL is 2 MiB (2,097,152 characters); the report's data: URL is the page in
# base64 (4 characters per 3 bytes) after a short prefix, so a page of at most 1.5 MB fits.
CHROMIUM_URL_LIMIT = 2 * 1024 * 1024
REPORT_PAGE_BYTES = 1_500_000
REPORT_FPS = 15.0  # the report's encode: at most this many frames a second
REPORT_WIDTHS = (768, 512, 384, 256, 192, 128)  # the largest whose bits per pixel stay above REPORT_MIN_BPP
REPORT_MIN_BPP = 0.05
REPORT_PREVIEW_S = 60.0  # the report's viewer shows at most this much of a video: a preview, not the whole
BASE64_CHUNK = 3 * 2**20  # bytes of video encoded at a time (a multiple of 3: no padding inside the page)


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
    embed_mb: float = 50.0  # a video up to this size (MB) goes inside the page; a larger one beside it

    def __post_init__(self) -> None:
        if self.width < 64 or self.width % 4:
            raise InputError(f"viewer.width must be a multiple of 4, at least 64, got {self.width}")
        if not 0 <= self.crf <= 51:
            raise InputError(f"viewer.crf must be between 0 and 51, got {self.crf}")
        if not 0 <= self.alpha <= 1:
            raise InputError(f"viewer.alpha must be between 0 and 1, got {self.alpha}")
        if self.audio_kbps < 0:
            raise InputError(f"viewer.audio_kbps must be 0 or more, got {self.audio_kbps}")
        if self.embed_mb < 0:
            raise InputError(f"viewer.embed_mb must be 0 or more, got {self.embed_mb}")


class SaliencyMaps:
    """The saliency maps of a video, one at a time, in frame order: from the ``saliency/`` folder
    (8-bit PNGs, per-frame min-max as the model writes them) or from a stack file.

    ``frames`` (N,) are the source frame indices; :meth:`map01` is map ``k`` in [0, 1], float32
    (H, W). A folder is read one file at a time, a stack file a window at a time
    (:func:`sstsal.media.saliency_stack.open_stack`): memory flat in the video's length.
    """

    def __init__(self, source: str | os.PathLike) -> None:
        self.source = Path(source)
        self._cache: dict[int, np.ndarray] = {}
        self._stack = None
        self._names: list[str] | None = None
        if self.source.is_dir():
            listed = list_frames(self.source)  # checks the names: one video, numbered, no repeats
            self.frames = np.array([f.number for f in listed], dtype=np.int64)
            self._video = listed[0].video
            if any(frame_name(f.video, f.number) != f.filename for f in listed):  # e.g. x_00042.png
                self._names = [f.filename for f in listed]
            del listed
        else:
            self._stack = open_saliency_stack(self.source)  # checked: readable, frame-numbered names
            self.frames = self._stack.frames

    def __len__(self) -> int:
        return len(self.frames)

    def map01(self, k: int) -> np.ndarray:
        """Map ``k`` (H, W) float32 in [0, 1]; the last two read are kept (interpolation reads pairs)."""
        if k in self._cache:
            return self._cache[k]
        if self._stack is not None:
            grey = normalised_maps(self._stack.map(k)[None])[0]
        else:
            import cv2

            name = self._names[k] if self._names else frame_name(self._video, int(self.frames[k]))
            image = cv2.imread(str(self.source / name), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise InputError(f"cannot read saliency map {self.source / name}: rerun the inference stage")
            grey = image.astype(np.float32) / 255.0
        if len(self._cache) >= 2:
            self._cache.pop(next(iter(self._cache)))
        self._cache[k] = grey
        return grey


def open_maps(maps: str | os.PathLike | SaliencyMaps) -> SaliencyMaps:
    """``maps`` as :class:`SaliencyMaps`: the ``saliency/`` folder of a video or a stack file."""
    if isinstance(maps, SaliencyMaps):
        return maps
    if not Path(maps).exists():
        raise InputError(f"saliency maps {maps} do not exist: give the video's saliency/ folder or saliency.npz "
                         "(run the workflow, or sstsal predict, first)")  # fmt: skip
    return SaliencyMaps(maps)


def _saliency_frame(maps: SaliencyMaps, n: int, size: tuple[int, int]) -> np.ndarray:
    """The grey (H, W) uint8 map of source frame ``n``: linear between the sampled frames around it."""
    import cv2

    frames = maps.frames
    k = int(np.clip(np.searchsorted(frames, n, side="right") - 1, 0, len(frames) - 1))
    grey = maps.map01(k)
    if k + 1 < len(frames) and n > frames[k]:
        w = (n - frames[k]) / (frames[k + 1] - frames[k])
        grey = (1 - w) * grey + w * maps.map01(k + 1)
    return cv2.resize(np.round(grey * 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)


def encode_stacked(
    video: str | Path, maps: str | Path | SaliencyMaps, out_mp4: str | Path, *, settings: ViewerSettings,
    info: VideoInfo, progress: bool = True, until_s: float | None = None,
) -> int:
    """The viewer's video: source on top, saliency grey below, (width x width), H.264 + AAC, its
    index at the front (so a browser seeks in it from the first bytes). ``until_s``: only the
    first seconds. Returns the frames written."""
    maps = open_maps(maps)
    half = (settings.width, settings.width // 2)
    fewer = settings.fps is not None and settings.fps < info.fps
    rate = f"{settings.fps:g}" if fewer else info.rate
    step = info.fps / settings.fps if fewer else 1.0  # source frames per encoded frame
    total = int(info.frame_count / step)
    if until_s is not None:
        total = min(total, max(1, int(round(until_s * info.fps / step))))
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
    bar = progress_bar(total, f"viewer {Path(video).stem}", disable=not progress)  # a line a minute too
    written = 0
    try:
        while written < total or until_s is None:
            buffer = decoder.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            top = np.frombuffer(buffer, np.uint8).reshape(half[1], half[0], 3)
            grey = _saliency_frame(maps, round(written * step), half)
            encoder.stdin.write(np.concatenate([top, np.repeat(grey[..., None], 3, axis=2)]).tobytes())
            written += 1
            bar.update()
    finally:
        bar.close()
        encoder.stdin.close()
        cut_short = until_s is not None and decoder.poll() is None
        if cut_short:  # the preview has what it needs: the rest of the video is not decoded
            decoder.kill()
        decoder.stdout.close()
        encoder.wait()
        decoder.wait()
    if (decoder.returncode != 0 and not cut_short) or encoder.returncode != 0 or written == 0:
        raise SstsalError(
            f"encoding the viewer's video failed (decoder exit {decoder.returncode}, encoder exit "
            f"{encoder.returncode}, {written} frames): see ffmpeg's messages above"
        )
    return written


def _director_rows(director_csv: str | Path, fps: float, until_s: float | None) -> np.ndarray:
    """(R, 4) time_s, yaw, pitch, cut of the director's path, PATH_ROWS_PER_SECOND rows a second and
    the rows around every cut, read row by row (a long video's path is not held as Python rows)."""
    step = max(1, round(fps / PATH_ROWS_PER_SECOND))
    kept: list[np.ndarray] = []
    block: list[tuple[float, float, float, float]] = []
    with open(director_csv, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["time_s", "yaw_deg", "pitch_deg", "fov_deg", "cut"]:
            raise InputError(f"{director_csv} is not a director path (time_s,yaw_deg,pitch_deg,fov_deg,cut): "
                             "rerun sstsal director")  # fmt: skip
        previous, previous_kept, last_kept = None, False, False
        for i, row in enumerate(reader):
            t, yaw, pitch, cut = float(row[0]), float(row[1]), float(row[2]), float(row[4])
            if until_s is not None and t > until_s:
                break
            keep = i % step == 0 or bool(cut)
            if cut and previous is not None and not previous_kept:  # the frame before a cut, too
                block.append(previous)
            if keep:
                block.append((t, yaw, pitch, cut))
            previous, previous_kept, last_kept = (t, yaw, pitch, cut), keep, keep
            if len(block) >= 4096:
                kept.append(np.array(block, np.float64))
                block = []
        if previous is None:
            raise InputError(f"{director_csv} holds no rows: rerun sstsal director")
        if not last_kept:
            block.append(previous)
    if block:
        kept.append(np.array(block, np.float64))
    return np.concatenate(kept)


def _peaks(maps: SaliencyMaps, fps: float, until_s: float | None) -> np.ndarray:
    """(N, 3) time_s, yaw, pitch of every map's maximum, one map at a time."""
    peaks = np.zeros((len(maps), 3), np.float64)
    count = 0
    for k, frame in enumerate(maps.frames):
        if until_s is not None and frame / fps > until_s:
            break
        yaw, pitch, _, _ = salient_direction(maps.map01(k))
        peaks[count] = (frame / fps, yaw, pitch)
        count += 1
    return peaks[:count]


@dataclass
class PageData:
    """What the page's script reads: fixed fields (``fixed``, always inside the page) and the rows
    that grow with the video (the maxima and the director's path)."""

    fixed: dict
    peaks: np.ndarray  # (N, 3) time_s, yaw, pitch
    director: np.ndarray  # (R, 4) time_s, yaw, pitch, cut

    def write_rows(self, handle: TextIO) -> None:
        """``"peaks":[...],"director":[...]`` in pieces (no string of the whole table)."""
        for key, rows, decimals in (("peaks", self.peaks, (3, 1, 1)), ("director", self.director, (3, 2, 2, 0))):
            handle.write(f'"{key}":[')
            for start in range(0, len(rows), 4096):
                piece = rows[start : start + 4096]
                text = ",".join(
                    "[" + ",".join(f"{v:.{d}f}" if d else str(int(v)) for v, d in zip(row, decimals)) + "]"
                    for row in piece
                )
                handle.write(("," if start else "") + text)
            handle.write("]" + ("," if key == "peaks" else ""))


def page_data(
    maps: str | Path | SaliencyMaps, director_csv: str | Path, info: VideoInfo, settings: ViewerSettings,
    *, until_s: float | None = None,
) -> PageData:
    """The page's data: saliency maxima, the director's path, the colormap (up to ``until_s``)."""
    maps = open_maps(maps)
    director = _director_rows(director_csv, info.fps, until_s)
    with open(director_csv, encoding="utf-8", newline="") as handle:
        fov = float(next(csv.DictReader(handle))["fov_deg"])
    duration = info.frame_count / info.fps
    lut_rgb = colormap_lut(settings.colormap)[:, ::-1]
    fixed = {
        "video": Path(info.path).stem,
        "duration": duration if until_s is None else min(duration, until_s),
        "fullDuration": duration,
        "fps": info.fps,
        "alpha": settings.alpha,
        "audio": bool(info.has_audio and settings.audio_kbps > 0),
        "encodeHeight": settings.width,
        "fov": fov,
        "lut": base64.b64encode(np.ascontiguousarray(lut_rgb).tobytes()).decode("ascii"),
    }
    return PageData(fixed, _peaks(maps, info.fps, until_s), director)


def _template_parts(title: str) -> tuple[str, str, str]:
    template = resources.files("sstsal.viewing").joinpath("viewer.html").read_text(encoding="utf-8")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    head, rest = template.replace("__TITLE__", safe_title).split("__VIDEO_URI__")
    middle, tail = rest.split("__DATA__")
    return head, middle, tail


def _json_fixed(fixed: dict) -> str:
    return json.dumps(fixed, separators=(",", ":")).replace("</", "<\\/")  # never closes the script tag


def write_page(
    handle: TextIO, title: str, data: PageData, *, video: bytes | Path | None = None, beside: str | None = None,
) -> None:
    """The page into ``handle``. ``video``: the encode to carry inside (bytes or a file, written in
    base64 pieces) with ``data`` inline; or ``beside``: the stem of the ``.mp4`` and ``.json`` files
    next to the page, which it plays and reads through ``sstsal view``."""
    head, middle, tail = _template_parts(title)
    handle.write(head)
    if beside is not None:
        handle.write(f"{beside}.mp4")
    else:
        handle.write("data:video/mp4;base64,")
        if isinstance(video, bytes):
            handle.write(base64.b64encode(video).decode("ascii"))
        else:
            with open(video, "rb") as source:
                while piece := source.read(BASE64_CHUNK):
                    handle.write(base64.b64encode(piece).decode("ascii"))
    handle.write(middle)
    if beside is not None:
        handle.write(_json_fixed({**data.fixed, "beside": f"{beside}.json", "videoFile": f"{beside}.mp4"}))
    else:
        handle.write(_json_fixed(data.fixed)[:-1] + ",")
        data.write_rows(handle)
        handle.write("}")
    handle.write(tail)


def render_page(title: str, video_bytes: bytes, data: PageData) -> str:
    """The HTML of the self-contained page around the encoded video and its data."""
    import io

    text = io.StringIO()
    write_page(text, title, data, video=video_bytes)
    return text.getvalue()


def beside_files(out_html: str | Path) -> tuple[Path, Path]:
    """The video and the data beside a page: ``viewer.html`` -> ``viewer.mp4``, ``viewer.json``."""
    out_html = Path(out_html)
    return out_html.with_suffix(".mp4"), out_html.with_suffix(".json")


def make_viewer(
    video: str | Path,
    maps: str | Path,
    director_csv: str | Path,
    out_html: str | Path,
    *,
    settings: ViewerSettings = ViewerSettings(),
    info: VideoInfo | None = None,
    progress: bool = True,
    report_html: str | Path | None = None,
    preview_s: float = REPORT_PREVIEW_S,
) -> int:
    """Write ``viewer.html`` for ``video`` with ``viewer.mp4`` and ``viewer.json`` beside it (see
    the module docstring: the page carries the video inside when it is at most
    ``settings.embed_mb``), and, given ``report_html``, the report's lighter page of the first
    ``preview_s`` seconds (:func:`make_report_viewer`). ``maps``: the video's ``saliency/`` folder
    or a stack file.
    Returns the size of ``viewer.html`` in bytes."""
    video, out_html = Path(video), Path(out_html)
    info = info or probe_video(video)
    maps = open_maps(maps)
    data = page_data(maps, director_csv, info, settings)  # checks the inputs before the encode
    out_mp4, out_json = beside_files(out_html)
    with atomic_file(out_mp4) as tmp:
        encode_stacked(video, maps, tmp, settings=settings, info=info, progress=progress)
    with atomic_file(out_json) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write("{")
        data.write_rows(handle)
        handle.write("}\n")
    video_size = out_mp4.stat().st_size
    inside = video_size <= settings.embed_mb * 1e6
    with atomic_file(out_html) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        if inside:
            write_page(handle, video.stem, data, video=out_mp4)
        else:
            write_page(handle, video.stem, data, beside=out_mp4.stem)
    size = out_html.stat().st_size
    if inside:
        logger.info("%s: %.2f MB, its video inside (%.2f MB, %dx%d, crf %s)", out_html, size / 1e6,
                    video_size / 1e6, settings.width, settings.width, settings.crf)  # fmt: skip
    else:
        logger.info("%s: %.3f MB; its video %s (%.1f MB, over viewer.embed_mb = %g MB) plays from beside it: "
                    "sstsal view %s", out_html, size / 1e6, out_mp4.name, video_size / 1e6, settings.embed_mb,
                    out_html.parent)  # fmt: skip
    if report_html is not None:
        make_report_viewer(video, maps, director_csv, report_html, settings=settings, info=info, progress=progress,
                           preview_s=preview_s)  # fmt: skip
    return size


def _encode(video: Path, maps: SaliencyMaps, settings: ViewerSettings, info: VideoInfo, progress: bool,
            until_s: float | None = None) -> bytes:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sstsal-viewer-") as scratch:  # the encode lives only inside the page
        encode = Path(scratch) / "viewer.mp4"
        encode_stacked(video, maps, encode, settings=settings, info=info, progress=progress, until_s=until_s)
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


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def make_report_viewer(
    video: str | Path,
    maps: str | Path | SaliencyMaps,
    director_csv: str | Path,
    out_html: str | Path,
    *,
    settings: ViewerSettings = ViewerSettings(),
    info: VideoInfo | None = None,
    progress: bool = True,
    limit: int = REPORT_PAGE_BYTES,
    preview_s: float = REPORT_PREVIEW_S,
) -> int:
    """The viewer page for the Snakemake report: the same page, self-contained, around an encode
    of the first ``preview_s`` seconds (all of a shorter video) sized so the page stays under
    ``limit`` bytes (see the module docstring). An encode that comes out too large is redone at a
    proportionally lower bitrate (x264's rate cap is not a strict bound); if none fits, a page
    says where the full viewer is. Returns the page's size."""
    video, out_html = Path(video), Path(out_html)
    info = info or probe_video(video)
    maps = open_maps(maps)
    duration = info.frame_count / info.fps
    until = preview_s if duration > preview_s else None
    data = page_data(maps, director_csv, info, settings, until_s=until)
    if until is not None:
        data.fixed["notice"] = (f"A preview: the first {_clock(preview_s)} of {_clock(duration)}. The whole video: "
                                f"results/{video.stem}/viewer.html, opened with  sstsal view results/{video.stem}")  # fmt: skip
    empty = len(render_page(video.stem, b"", data).encode())
    budget = int((limit - empty) * 3 / 4 * 0.9)  # the video goes in as base64; 10% for x264's overshoot
    page = ""
    for _ in range(4):
        if budget < 20_000:
            break
        report = report_encoding(data.fixed["duration"], info.fps, budget, settings)
        video_bytes = _encode(video, maps, report, info, progress, until_s=until)
        data.fixed.update(encodeHeight=report.width, audio=False)
        page = render_page(video.stem, video_bytes, data)
        size = len(page.encode())
        logger.info("%s: %.2f MB (%dx%d at %g fps, %d kbps, %.0f s of %.0f s; the report's limit is %.2f MB)",
                    out_html, size / 1e6, report.width, report.width, report.fps, report.video_kbps,
                    data.fixed["duration"], duration, limit / 1e6)  # fmt: skip
        if size <= limit:
            break
        budget = int(budget * (limit - empty) / (size - empty) * 0.9)
        page = ""
    if not page:
        logger.warning("no viewer of %s fits inside the report: the report links to results/%s/viewer.html instead",
                       video.name, video.stem)  # fmt: skip
        page = _pointer_page(video.stem)
    write_text(out_html, page)
    return Path(out_html).stat().st_size


def _pointer_page(name: str) -> str:
    safe = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<!doctype html><meta charset=\"utf-8\"><title>SST-Sal viewer: {safe}</title>"
            f"<p>No viewer of this video fits inside the report. Open <code>results/{safe}/viewer.html</code> "
            f"from the results folder (<code>sstsal view results/{safe}</code>).</p>\n")  # fmt: skip
