"""The director's cut: a normal-field-of-view video whose camera follows the saliency.

The camera path (:mod:`sstsal.viewing.camera`) is rendered from the source video at its full
resolution: every decoded frame is resampled with ``cv2.remap`` through a rectilinear
(gnomonic) projection, the seam wrapping around, and encoded as H.264 at the source frame rate
with the source audio, next to ``director.csv`` (one row per output frame).
"""

from __future__ import annotations

import logging
import math
import zipfile
from pathlib import Path

import cv2
import numpy as np

from sstsal.errors import InputError
from sstsal.media.render import transcode_frames
from sstsal.media.saliency_stack import SaliencyStack, open_stack
from sstsal.media.video import VideoInfo, probe_video
from sstsal.viewing.camera import CameraPath, DirectorSettings, PathMeasures, camera_path, measure_path

logger = logging.getLogger(__name__)

# Bump when a change alters director.mp4 (triggers reruns through workflow params).
OUTPUT_VERSION = 3

logger = logging.getLogger(__name__)


def camera_rays(width: int, height: int, fov_deg: float) -> np.ndarray:
    """(H, W, 3) float32 unit rays of a pinhole camera looking along +z (x right, y up)."""
    focal = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / focal
    y = -(np.arange(height, dtype=np.float32) + 0.5 - height / 2) / focal
    xx, yy = np.meshgrid(x, y)
    rays = np.stack([xx, yy, np.ones_like(xx)], axis=-1)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """3x3 matrix turning the camera's forward (+z) to (yaw, pitch), keeping its up in the vertical plane."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    yaw = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    return yaw @ pitch


def equirect_maps(rays: np.ndarray, yaw: float, pitch: float, source_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps (x, y), float32 (H, W), of the rays turned to (yaw, pitch) in an equirect image."""
    width, height = source_size
    world = rays @ rotation(yaw, pitch).T.astype(np.float32)
    lon = np.arctan2(world[..., 0], world[..., 2])
    lat = np.arcsin(np.clip(world[..., 1], -1, 1))
    map_x = (lon * (0.5 / math.pi) + 0.5) * width - 0.5
    map_y = np.clip((0.5 - lat * (1 / math.pi)) * height - 0.5, 0, height - 1)
    return map_x.astype(np.float32), map_y.astype(np.float32)


def project(frame: np.ndarray, rays: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """The view of an equirectangular frame (H, W, 3) in direction (yaw, pitch), shaped like ``rays``."""
    map_x, map_y = equirect_maps(rays, yaw, pitch, (frame.shape[1], frame.shape[0]))
    # BORDER_WRAP: the columns left of 0 and right of the last are the other side of the seam
    return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def sample_frames_of(names: list[str]) -> np.ndarray:
    """Source frame indices of stack names ``<video>_<index>``."""
    try:
        return np.array([int(n.rsplit("_", 1)[1]) for n in names])
    except (IndexError, ValueError):
        raise InputError(f"saliency map names must end in _<source frame index>, got e.g. {names[:2]}") from None


def open_saliency_stack(stack: str | Path) -> SaliencyStack:
    if not Path(stack).is_file():
        raise InputError(f"saliency stack {stack} does not exist: run the workflow (or sstsal predict --save-raw) first")
    try:
        maps = open_stack(stack)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read saliency stack {stack} ({exc}): it should be the workflow's saliency.npz or sstsal predict --save-raw's raw.npz") from None
    if len(maps) == 0:
        raise InputError(f"{stack} holds no saliency maps")
    sample_frames_of(list(maps.names))  # InputError for names without a frame index
    return maps


def read_maps(stack: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The maps (N, H, W) of a saliency stack and their source frame indices (N,), in frame order,
    in memory (a short clip's); :func:`director_path` reads a window at a time."""
    with open_saliency_stack(stack) as maps:
        return maps.window(0, len(maps)), maps.frames


def director_path(
    stack: str | Path, info: VideoInfo, settings: DirectorSettings = DirectorSettings()
) -> tuple[CameraPath, PathMeasures]:
    """The camera path of a video from its saliency stack (read a window at a time), and its
    measures; warm-up maps hold the first well-founded direction instead of steering."""
    with open_saliency_stack(stack) as maps:
        frames, warmup = maps.frames, maps.warmup
        if warmup.any():
            logger.info("director %s: %d warm-up map(s) (frames %s) hold the first well-founded direction",
                        Path(info.path).name, int(warmup.sum()), ", ".join(map(str, frames[warmup])))  # fmt: skip
        path = camera_path(maps.windows(), frames, fps=info.fps, frame_count=info.frame_count, settings=settings,
                           warmup=warmup)  # fmt: skip
        return path, measure_path(path, maps.windows(), frames, info.fps)


# The smallest cut worth watching: a source holding fewer pixels across the view is upscaled to it.
MIN_SIZE = (640, 360)


def output_size(size: tuple[int, int], source_width: int, fov: float) -> tuple[int, int]:
    """The director's frame size: ``size`` (director.width x director.height), scaled down (aspect
    kept, even numbers) when the source holds fewer pixels across the field of view than that, but
    never below :data:`MIN_SIZE` (nor above ``size``).

    An equirectangular source of width W has W/360 pixels per degree, so a view of ``fov`` degrees
    holds W * fov / 360 source pixels across: a larger output only upscales, so above
    :data:`MIN_SIZE` the cut follows the source (4K at 90 degrees: 960x540); below it a cut the size
    of the source's pixels (a 640x320 source: 160x90) is too small to watch, and 640x360 is made.
    """
    width, height = size
    held = source_width * fov / 360.0
    if held >= width:
        return width, height
    smallest = min(1.0, max(MIN_SIZE[0] / width, MIN_SIZE[1] / height))  # both sides at least MIN_SIZE's
    scale = max(held / width, smallest)
    return max(16, int(width * scale + 1e-6) // 2 * 2), max(16, round(height * scale / 2) * 2)


def render_director(
    video: str | Path,
    path: CameraPath,
    out_path: str | Path,
    *,
    settings: DirectorSettings = DirectorSettings(),
    crf: int = 20,
    preset: str = "medium",
    info: VideoInfo | None = None,
    progress: bool = True,
) -> int:
    """Render ``path`` (one row per source frame) from ``video`` at full resolution into an MP4.

    The frame size is ``settings.size``, or less for a source that holds less, down to
    :data:`MIN_SIZE` (:func:`output_size`; the log says when the source is upscaled).
    A source that decodes to more frames than the path holds keeps the last direction. Returns
    the number of frames written.
    """
    video, out_path = Path(video), Path(out_path)
    info = info or probe_video(video)
    # the equirectangular view the frames are decoded to (a cubemap's or a stereo file's own width is not it)
    size = output_size(settings.size, info.view_width, path.fov)
    held = round(info.view_width * path.fov / 360)
    if size[0] > held:
        logger.info("director %s: %dx%d, upscaled from the source's %d pixels across %g degrees (the cut is at least "
                    "%dx%d)", video.name, *size, held, path.fov, *(min(a, b) for a, b in zip(MIN_SIZE, settings.size)))  # fmt: skip
    elif size != settings.size:
        logger.info("director %s: %dx%d, the source's %d pixels across %g degrees (director.width x height %dx%d "
                    "would upscale)", video.name, *size, held, path.fov, *settings.size)  # fmt: skip
    rays = camera_rays(size[0], size[1], path.fov)

    def view(frame: np.ndarray, n: int) -> np.ndarray:
        row = min(n, len(path) - 1)
        return project(frame, rays, float(path.yaw[row]), float(path.pitch[row]))

    return transcode_frames(
        video, out_path, info, view, decode_size=None, out_size=size, crf=crf, preset=preset,
        label=f"director {video.stem}", progress=progress,
    )  # fmt: skip


def write_director_path(
    stack: str | Path, info: VideoInfo, out_csv: str | Path, settings: DirectorSettings = DirectorSettings()
) -> PathMeasures:
    """``director.csv`` of a video; logs and returns the path's measures."""
    path, measures = director_path(stack, info, settings)
    path.write_csv(out_csv)
    logger.info("%s: %s", Path(info.path).name, measures.describe())
    return measures


def make_director_cut(
    video: str | Path,
    stack: str | Path,
    out_mp4: str | Path,
    out_csv: str | Path,
    *,
    settings: DirectorSettings = DirectorSettings(),
    crf: int = 20,
    preset: str = "medium",
    info: VideoInfo | None = None,
    progress: bool = True,
) -> PathMeasures:
    """Both files of the director's cut (the CLI's one-step version)."""
    info = info or probe_video(video)
    measures = write_director_path(stack, info, out_csv, settings)
    render_director(video, CameraPath.read_csv(out_csv), out_mp4, settings=settings, crf=crf, preset=preset,
                    info=info, progress=progress)  # fmt: skip
    return measures
