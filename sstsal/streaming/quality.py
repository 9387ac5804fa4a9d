"""What an encode looks like where it is watched: WS-PSNR over the sphere and its salient part, and viewport PSNR.

All on the luma of 8-bit frames, against the source decoded the way the encoder received it:

- ``ws_psnr``: WS-PSNR (Sun, Lu, Yu 2017, the JVET 360-video metric): each pixel's squared
  error weighted by its solid angle, ``cos(latitude)``, over the whole sphere;
- ``salient_ws_psnr``: the same over the most salient ``fraction`` (default 20 %) of the sphere's
  solid angle, per segment, from the evaluation maps (predicted or ground truth);
- ``director_psnr`` / ``random_psnr``: plain PSNR of rendered viewports (``fov`` 100 x 90 degrees,
  gnomonic, as the director's cut renders them) along the director's path of the evaluation maps
  and at fixed random directions (uniform on the sphere).

Every figure is the mean over frames of the per-frame PSNR (viewports: every ``viewport_every``-th frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sstsal.errors import SstsalError
from sstsal.media.video import VideoInfo, ffmpeg_exe, view_stream
from sstsal.streaming.segments import Segment, segment_maps
from sstsal.streaming.tiles import row_solid_angles, sphere_densities
from sstsal.viewing.camera import DirectorSettings, camera_path
from sstsal.viewing.director import camera_rays, project

METRICS = ("ws_psnr", "salient_ws_psnr", "director_psnr", "random_psnr")
DENSITY_SIZE = (120, 60)  # (w, h) the segments' densities are kept at
PEAK = 255.0


def ws_weights(height: int, width: int) -> np.ndarray:
    """(H, W) WS-PSNR weights of an equirectangular frame: cos of each row's latitude."""
    rows = np.cos((np.arange(height) + 0.5 - height / 2) * math.pi / height)
    return np.broadcast_to(rows[:, None], (height, width))


def psnr(mse: float) -> float:
    """PSNR in dB of an 8-bit image's mean squared error (100 dB for a perfect copy)."""
    return 100.0 if mse <= 1e-10 else 10.0 * math.log10(PEAK * PEAK / mse)


def weighted_mse(reference: np.ndarray, test: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean squared error of two images (H, W) with weights (H, W) (0 outside a region)."""
    error = reference.astype(np.float64) - test.astype(np.float64)
    return float((error * error * weights).sum() / weights.sum())


def salient_region(density: np.ndarray, size: tuple[int, int], fraction: float = 0.2) -> np.ndarray:
    """(H, W) bool at ``size`` (w, h): the most salient pixels of a sphere density (h, w) that
    together cover ``fraction`` of the sphere's solid angle.

    Pixels of equal density (the zeros around a sharp ground-truth map) are ranked by the density
    blurred over about 30 degrees, so the region grows around the salient spots rather than from
    the top of the image.
    """
    width, height = size
    small = density.astype(np.float32)
    pad = small.shape[1] // 4
    wrapped = np.pad(small, ((0, 0), (pad, pad)), mode="wrap")  # the seam: left and right edges meet
    sigma = small.shape[1] / 12
    blurred = cv2.GaussianBlur(wrapped, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)[:, pad:-pad]
    dense = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).ravel()
    near = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR).ravel()
    area = np.broadcast_to(row_solid_angles(height)[:, None] / width, (height, width)).ravel()
    order = np.lexsort((-near, -dense))
    keep = np.searchsorted(np.cumsum(area[order]), fraction) + 1
    mask = np.zeros(dense.size, dtype=bool)
    mask[order[:keep]] = True
    return mask.reshape(height, width)


def viewport_size(frame_width: int, fov: tuple[float, float] = (100.0, 90.0)) -> tuple[int, int]:
    """(w, h) of a viewport holding as many pixels across as the equirect frame has over ``fov``."""
    width = max(16, round(frame_width * fov[0] / 360.0) // 2 * 2)
    height = max(16, round(width * math.tan(math.radians(fov[1] / 2)) / math.tan(math.radians(fov[0] / 2))) // 2 * 2)
    return width, height


def random_directions(count: int, seed: int = 0) -> np.ndarray:
    """(count, 2) yaw, pitch in degrees, uniform on the sphere (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180.0, 180.0, count), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))], axis=1)


def segment_densities(maps_source: str | Path, segments: list[Segment]) -> np.ndarray:
    """(S, h, w) each segment's mean sphere density at DENSITY_SIZE (a segment without maps holds the last)."""
    out = np.zeros((len(segments), DENSITY_SIZE[1], DENSITY_SIZE[0]), dtype=np.float32)
    last, filled = None, []
    for segment, maps, _ in segment_maps(maps_source, segments):
        if len(maps):
            mean = sphere_densities(maps).mean(axis=0).astype(np.float32)
            last = cv2.resize(mean, DENSITY_SIZE, interpolation=cv2.INTER_AREA)
            if not filled:
                out[: segment.index] = last
            filled.append(segment.index)
        if last is not None:
            out[segment.index] = last
    if last is None:
        raise SstsalError(f"{maps_source} holds no map of this video's frames")
    return out


def _gray_frames(stream_or_path, size: tuple[int, int]):
    """A generator of (H, W) uint8 luma frames from an ffmpeg-python stream or a file."""
    import ffmpeg

    stream = ffmpeg.input(str(stream_or_path)) if isinstance(stream_or_path, (str, Path)) else stream_or_path
    proc = (
        stream.output("pipe:", format="rawvideo", pix_fmt="gray", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    count = size[0] * size[1]
    try:
        while len(buffer := proc.stdout.read(count)) == count:
            yield np.frombuffer(buffer, np.uint8).reshape(size[1], size[0])
    finally:
        proc.stdout.close()
        proc.wait()


@dataclass
class _Sums:
    values: dict[str, list[float]]

    def add(self, metric: str, value: float) -> None:
        self.values.setdefault(metric, []).append(value)

    def means(self) -> dict[str, float]:
        return {m: round(float(np.mean(v)), 3) for m, v in self.values.items()}


def compare_encodes(
    video: str | Path,
    info: VideoInfo,
    encodes: dict[str, str | Path],
    maps_source: str | Path,
    segments: list[Segment],
    *,
    size: tuple[int, int],
    fraction: float = 0.2,
    fov: tuple[float, float] = (100.0, 90.0),
    random_views: int = 8,
    viewport_every: int = 2,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """{encode name: {metric: mean dB}} of each encode (decoded at ``size`` (w, h)) against the source
    ``video`` decoded as its equirectangular view at ``size``, the regions and the director's path
    from the maps of ``maps_source`` (read one segment at a time). Frames are read one at a time."""
    densities = segment_densities(maps_source, segments)
    middles = np.array([(s.start_frame + s.stop_frame - 1) // 2 for s in segments])
    path = camera_path(densities, middles, fps=info.fps, frame_count=info.frame_count,
                       settings=DirectorSettings(fov=fov[0]))  # fmt: skip
    views = random_directions(random_views, seed)
    rays = camera_rays(*viewport_size(size[0], fov), fov[0])
    weights = ws_weights(size[1], size[0])
    reference = _gray_frames(view_stream(video, info, size=size)[0], size)
    decoded = {name: _gray_frames(Path(p), size) for name, p in encodes.items()}
    sums = {name: _Sums({}) for name in encodes}
    starts = [s.start_frame for s in segments]
    region_of, region = -1, None
    frame = -1
    for frame, ref in enumerate(reference):
        tests = {}
        for name, frames in decoded.items():
            test = next(frames, None)
            if test is None:
                raise SstsalError(f"{encodes[name]} has fewer frames than the source ({frame}): encode it again")
            tests[name] = test
        k = int(np.searchsorted(starts, frame, side="right") - 1)
        if k != region_of:
            region = weights * salient_region(densities[k], size, fraction)
            region_of = k
        row = min(frame, len(path) - 1)
        viewports = frame % viewport_every == 0
        if viewports:
            ref_views = [project(ref, rays, float(path.yaw[row]), float(path.pitch[row]))]
            ref_views += [project(ref, rays, float(y), float(p)) for y, p in views]
        for name, test in tests.items():
            sums[name].add("ws_psnr", psnr(weighted_mse(ref, test, weights)))
            sums[name].add("salient_ws_psnr", psnr(weighted_mse(ref, test, region)))
            if viewports:
                director = project(test, rays, float(path.yaw[row]), float(path.pitch[row]))
                sums[name].add("director_psnr", psnr(float(np.mean((ref_views[0].astype(float) - director) ** 2))))
                randoms = [project(test, rays, float(y), float(p)) for y, p in views]
                sums[name].add("random_psnr", float(np.mean([psnr(float(np.mean((a.astype(float) - b) ** 2)))
                                                             for a, b in zip(ref_views[1:], randoms)])))  # fmt: skip
    if frame < 0:
        raise SstsalError(f"no frame could be decoded from {video}")
    return {name: s.means() for name, s in sums.items()}
