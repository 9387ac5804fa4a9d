"""Overlay video: the source video with its saliency heatmap blended on top (the published look).

The published code blends a frame with the inferno-coloured 8-bit saliency map at alpha 0.5
(``cv2.addWeighted``). Here every *source* frame is shown, at the source frame rate and
duration, with the map of the latest sampled frame (or a linear interpolation between the two
sampled frames around it), encoded as H.264/yuv420p by the bundled ffmpeg; the source audio is
copied (re-encoded to AAC only when the MP4 container cannot hold it as is).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from sstsal.atomic import atomic_file
from sstsal.errors import InputError, SstsalError
from sstsal.logs import progress_bar
from sstsal.media.saliency_stack import open_stack
from sstsal.media.spherical_metadata import with_spherical_metadata
from sstsal.media.video import VideoInfo, ffmpeg_exe, probe_video, view_stream

logger = logging.getLogger(__name__)

# Bump when a change alters the overlay video (triggers reruns through workflow params).
OUTPUT_VERSION = 3

MAX_DEFAULT_WIDTH = 1920  # default render width: the source width, at most this


def colormap_lut(name: str = "inferno") -> np.ndarray:
    """(256, 3) uint8 BGR lookup table of a matplotlib colormap.

    Scaled by 256 and truncated like the published blend (``(cmap(x) * 2**8).astype(uint8)``),
    clipped so that a channel equal to 1.0 cannot wrap around to 0.
    """
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise InputError(f"unknown colormap {name!r}: use a matplotlib colormap name such as inferno") from None
    rgb = np.minimum(cmap(np.arange(256))[:, :3] * 256, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[:, ::-1])


def normalise_map(saliency: np.ndarray) -> np.ndarray:
    """Per-frame min-max normalisation to [0, 1] (a constant map becomes zeros). (H, W) float32."""
    saliency = saliency.astype(np.float32)
    low, high = float(saliency.min()), float(saliency.max())
    return (saliency - low) / (high - low) if high > low else np.zeros_like(saliency)


def heatmap(saliency01: np.ndarray, size: tuple[int, int], lut: np.ndarray) -> np.ndarray:
    """Colour a [0, 1] map (H, W) as an 8-bit colormap image of ``size`` (width, height), BGR."""
    levels = np.round(saliency01 * 255).astype(np.uint8)
    levels = cv2.resize(levels, size, interpolation=cv2.INTER_AREA)  # as the published save_video
    return lut[levels]


def blend(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 - alpha) * frame + alpha * heat`` rounded as cv2.addWeighted does, uint8 (H, W, 3)."""
    return cv2.addWeighted(frame, 1.0 - alpha, heat, alpha, 0.0)


def render_size(info: VideoInfo, width: int | None) -> tuple[int, int]:
    """Even (width, height) of one eye at the aspect of the equirectangular view (the source's for
    a mono equirectangular video); default width = the view's width, at most 1920."""
    target = min(info.view_width, MAX_DEFAULT_WIDTH) if width is None else int(width)
    if target < 2:
        raise InputError(f"render.width must be at least 2 pixels, got {width}")
    height = target * info.view_height / info.view_width
    return max(2, round(target / 2) * 2), max(2, round(height / 2) * 2)


def stored_eye(info: VideoInfo, size: tuple[int, int]) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """How an eye of the ``size`` (w, h) view goes back to the source's geometry: ((x, y, w, h) of the
    view to keep, (w, h) to store it at). An equirectangular source keeps its part of the sphere
    (VR180 and cropped frames their bounds) and its stored aspect (squeezed eyes, 16:9); other
    projections come back as the whole 2:1 view."""
    layout = info.layout
    if layout.projection not in ("equirectangular", "half-equirectangular"):
        return (0, 0, size[0], size[1]), size
    x, y, w, h = layout.crop_box(size)
    eye_w, eye_h = layout.eye_size()
    return (x, y, w, h), (max(2, round(w / 2) * 2), max(2, round(w * eye_h / eye_w / 2) * 2))


def cropped_view_width(info: VideoInfo) -> int | None:
    """For a VR180 or cropped source, the view width at which its eyes come back at their stored
    width (at most 1920); None for a source that covers the whole sphere."""
    if info.layout.projection not in ("equirectangular", "half-equirectangular"):
        return None
    view_w = info.view_width
    crop_w = info.layout.crop_box((view_w, info.view_height))[2]
    if crop_w >= view_w:
        return None
    return round(min(info.layout.eye_size()[0], MAX_DEFAULT_WIDTH) * view_w / crop_w)


def written_back_metadata(info: VideoInfo) -> dict:
    """The spherical metadata of the overlay: equirectangular, the source's stereo layout and, for
    VR180 and cropped frames, its bounds (V2 ``equi`` bounds and the V1 crop description)."""
    layout = info.layout
    bounds = (0.0, 0.0, 0.0, 0.0)
    if layout.projection == "half-equirectangular":
        bounds = (0.0, 0.0, 0.25, 0.25)
    elif layout.projection == "equirectangular":
        bounds = layout.bounds
    return {"projection": "equirectangular", "stereo": layout.stereo, "bounds": tuple(bounds)}


def mux_audio(video_only: Path, source: Path, out: Path) -> None:
    """Put the source's audio next to the rendered video: stream copy, AAC if copy is refused."""
    for audio_codec in ("copy", "aac"):
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(video_only),
               "-i", str(source), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", audio_codec,
               "-movflags", "+faststart", "-f", "mp4", str(out)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if proc.returncode == 0:
            return
        logger.warning("audio %s failed: %s", audio_codec, proc.stderr.strip()[-500:])
    raise SstsalError(f"could not add the audio of {source} to the overlay video (see the log above)")


def render_overlay(
    video: str | Path,
    stack: str | Path,
    out_path: str | Path,
    *,
    width: int | None = None,
    alpha: float = 0.5,
    colormap: str = "inferno",
    interpolate: bool = False,
    crf: int = 20,
    preset: str = "medium",
    info: VideoInfo | None = None,
    progress: bool = True,
) -> Path:
    """Write the overlay MP4 of ``video`` with the maps of ``stack`` (read a window at a time, see
    :mod:`sstsal.media.saliency_stack`).

    Map names must end in the source frame index (``<video>_<index>``). Every source frame gets
    the map of the latest sampled frame at or before it, or with ``interpolate`` a linear blend of
    the two sampled maps around it. Output: H.264, yuv420p, even size ``render_size(width)``, the
    source frame rate and frame count, the source audio. Written atomically.

    The overlay is 360-degree media: it is the equirectangular view the maps were computed on
    (the chosen eye converted, pose applied, tone-mapped), with spherical metadata V2 (``sv3d``
    equirectangular, ``st3d``) and V1. A stereo source keeps its layout: both eyes are converted
    and each gets the heatmap at the same place. An equirectangular source comes back as it came
    (:func:`stored_eye`): VR180 and cropped frames as their part of the sphere with its bounds
    (V2 ``equi``, V1 crop), squeezed or 16:9 eyes at their stored aspect.
    """
    video, out_path = Path(video), Path(out_path)
    info = info or probe_video(video)
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"render.alpha must be between 0 and 1, got {alpha}")
    maps = open_stack(stack)  # read a window at a time, in frame order
    if len(maps) == 0:
        raise InputError(f"{stack} holds no saliency maps")
    indices = maps.frames  # ascending: the stack is in frame order
    size = render_size(info, width if width is not None else cropped_view_width(info))
    lut = colormap_lut(colormap)
    maps01: dict[int, np.ndarray] = {}  # the (at most two) normalised maps in use
    heat_cache: dict[int, np.ndarray] = {}

    def map01(k: int) -> np.ndarray:
        if k not in maps01:
            for old in [j for j in maps01 if j < k - 1]:
                del maps01[old]
            maps01[k] = normalise_map(maps.map(k))
        return maps01[k]

    def heat_for(n: int) -> np.ndarray:
        k = max(0, int(np.searchsorted(indices, n, side="right")) - 1)  # latest sampled frame at or before n
        if interpolate and k + 1 < len(indices) and n > indices[k]:
            w = (n - indices[k]) / (indices[k + 1] - indices[k])
            return heatmap((1 - w) * map01(k) + w * map01(k + 1), size, lut)
        if k not in heat_cache:
            heat_cache.clear()  # maps are used in order: one cached heatmap is enough
            heat_cache[k] = heatmap(map01(k), size, lut)
        return heat_cache[k]

    stereo = info.layout.stereo
    eyes = (1, 2) if stereo == "top-bottom" else (2, 1) if stereo == "left-right" else (1, 1)
    (cx, cy, cw, ch), eye_out = stored_eye(info, size)
    out_size = (eye_out[0] * eyes[0], eye_out[1] * eyes[1])
    as_stored = (cx, cy, cw, ch, *eye_out) != (0, 0, size[0], size[1], *size)

    def overlay(frame: np.ndarray, n: int) -> np.ndarray:
        heat = heat_for(n)
        blended = blend(frame, np.tile(heat, (eyes[1], eyes[0], 1)) if eyes != (1, 1) else heat, alpha)
        if not as_stored:
            return blended
        # each eye back to its part of the sphere and its stored aspect
        parts = []
        for i in range(eyes[0] * eyes[1]):
            ox, oy = (i * size[0], 0) if eyes[0] == 2 else (0, i * size[1])
            part = blended[oy + cy : oy + cy + ch, ox + cx : ox + cx + cw]
            parts.append(cv2.resize(part, eye_out, interpolation=cv2.INTER_AREA) if (cw, ch) != eye_out else part)
        return np.ascontiguousarray(parts[0] if len(parts) == 1 else np.hstack(parts) if eyes[0] == 2 else np.vstack(parts))

    with maps:
        transcode_frames(
            video, out_path, info, overlay, decode_size=size, out_size=out_size, crf=crf, preset=preset,
            label=f"overlay {video.stem}", progress=progress, both_eyes=True,
            spherical=written_back_metadata(info),
        )  # fmt: skip
    return out_path


def transcode_frames(
    video: str | Path,
    out_path: str | Path,
    info: VideoInfo,
    transform: Callable[[np.ndarray, int], np.ndarray],
    *,
    decode_size: tuple[int, int] | None,
    out_size: tuple[int, int],
    crf: int = 20,
    preset: str = "medium",
    label: str = "",
    progress: bool = True,
    both_eyes: bool = False,
    spherical: dict | None = None,
) -> int:
    """Decode every frame of ``video`` as its equirectangular view (BGR, see
    :func:`~sstsal.media.video.view_stream`; scaled to ``decode_size`` (w, h) with INTER_AREA-like
    ``area`` scaling, or at the view's size with None; with ``both_eyes`` both eyes of a stereo
    source in its layout), write ``transform(frame, index)`` (uint8, ``out_size``) as
    H.264/yuv420p MP4 at the source frame rate with the source audio, atomically; with
    ``spherical`` (options of :func:`~sstsal.media.spherical_metadata.inject_spherical_metadata`)
    the file carries spherical metadata. Returns the number of frames written; a failed decode or
    encode raises :class:`SstsalError`."""
    video, out_path = Path(video), Path(out_path)
    source, (width, height) = view_stream(video, info, size=decode_size, both_eyes=both_eyes)
    decoder = (
        source.output("pipe:", format="rawvideo", pix_fmt="bgr24", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    frame_bytes = width * height * 3
    with atomic_file(out_path) as tmp:
        video_only = tmp.with_name(tmp.stem + ".video.mp4") if info.has_audio else tmp
        encoder = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{out_size[0]}x{out_size[1]}", framerate=info.rate)
            .output(str(video_only), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset=preset,
                    movflags="+faststart", f="mp4")  # fmt: skip
            .global_args("-hide_banner", "-nostdin", "-v", "error")
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True)
        )
        bar = progress_bar(info.frame_count, label or video.stem, disable=not progress)
        written = 0
        try:
            while True:
                buffer = decoder.stdout.read(frame_bytes)
                if len(buffer) < frame_bytes:
                    break
                frame = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
                encoder.stdin.write(transform(frame, written).tobytes())
                written += 1
                bar.update()
        finally:
            bar.close()
            encoder.stdin.close()
            decoder.stdout.close()
            encoder.wait()
            decoder.wait()
        try:
            if decoder.returncode != 0 or encoder.returncode != 0 or written == 0:
                raise SstsalError(
                    f"rendering {out_path} failed (decoder exit {decoder.returncode}, encoder exit "
                    f"{encoder.returncode}, {written} frames): see ffmpeg's messages above"
                )
            if info.has_audio:
                mux_audio(video_only, video, tmp)
            if spherical is not None:
                with_spherical_metadata(tmp, **spherical)
        finally:
            if video_only != tmp:
                video_only.unlink(missing_ok=True)
    return written
