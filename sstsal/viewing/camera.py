"""The director's virtual camera: where to look on the sphere, and how a calm operator gets there.

Directions follow ``directions.csv``: yaw 0 at the image centre, positive to the right, pitch
positive up, in degrees; as unit vectors x points right (yaw 90), y up, z forward (yaw 0).

1. Target: every map is min-max normalised and scored for every candidate view direction on a
   5-degree grid by the saliency it gathers under a spherical Gaussian (each pixel weighted by
   its solid angle, cos latitude, so the stretched poles do not count more than they are). The
   scores are smoothed over time (Gaussian, ``smoothing_s``) and the best direction is the
   target; the previous target is kept while it scores within ``switch_margin`` of the best.
2. Camera: a critically damped spring towards the target on the sphere with a dead zone (no
   jitter from small moves) and the target's own smoothed velocity fed forward (no lag behind a
   steadily moving target), the acceleration and the angular speed clipped to bounds. A target
   more than ``cut_angle`` away is not panned to: the camera slows to a stop, and cuts to it
   when it stays there for ``cut_after_s``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from sstsal.atomic import atomic_file
from sstsal.errors import InputError

# Bump when a change alters the camera path (triggers reruns through workflow params).
OUTPUT_VERSION = 2

GRID_STEP_DEG = 5.0  # candidate view directions
SCORE_SIZE = (60, 30)  # (width, height) the maps are reduced to for scoring


@dataclass(frozen=True)
class DirectorSettings:
    """How the director's camera looks and moves (config section ``director``)."""

    width: int = 1280
    height: int = 720
    fov: float = 90.0  # horizontal field of view, degrees
    smoothing_s: float = 0.5  # Gaussian sigma of the time smoothing of the saliency
    max_speed: float = 60.0  # degrees per second
    max_accel: float = 90.0  # degrees per second squared
    response_s: float = 0.5  # time constant of the spring (1 / natural frequency)
    dead_zone: float = 5.0  # degrees: the camera ignores a target closer than this
    switch_margin: float = 0.15  # keep the current target while it scores within this fraction of the best
    cut_angle: float = 60.0  # degrees: a target further away than this ...
    cut_after_s: float = 1.0  # ... for this long is cut to
    max_pitch: float = 60.0  # degrees: the camera stays within +-max_pitch of the horizon

    def __post_init__(self) -> None:
        checks = [
            (self.width >= 16 and self.height >= 16, "width and height must be at least 16 pixels"),
            (0 < self.fov < 180, "fov must be between 0 and 180 degrees"),
            (self.smoothing_s >= 0, "smoothing_s must be 0 or more"),
            (self.max_speed > 0 and self.max_accel > 0, "max_speed and max_accel must be positive"),
            (self.response_s > 0, "response_s must be positive"),
            (0 <= self.dead_zone < 180, "dead_zone must be between 0 and 180 degrees"),
            (0 <= self.switch_margin < 1, "switch_margin must be between 0 and 1"),
            (0 < self.cut_angle <= 180, "cut_angle must be between 0 and 180 degrees"),
            (self.cut_after_s >= 0, "cut_after_s must be 0 or more"),
            (0 <= self.max_pitch <= 90, "max_pitch must be between 0 and 90 degrees"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(f"director settings: {message} (got {asdict(self)})")

    @property
    def size(self) -> tuple[int, int]:
        """Even (width, height) for H.264/yuv420p."""
        return self.width // 2 * 2, self.height // 2 * 2


@dataclass(frozen=True)
class CameraPath:
    """One row per output frame: time (s), yaw, pitch, fov (degrees) and whether a cut lands there."""

    time_s: np.ndarray  # (F,)
    yaw: np.ndarray  # (F,)
    pitch: np.ndarray  # (F,)
    fov: float
    cut: np.ndarray  # (F,) bool

    def __len__(self) -> int:
        return len(self.time_s)

    def to_csv(self) -> str:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["time_s", "yaw_deg", "pitch_deg", "fov_deg", "cut"])
        for t, y, p, c in zip(self.time_s, self.yaw, self.pitch, self.cut):
            writer.writerow([f"{t:.4f}", f"{y:.2f}", f"{p:.2f}", f"{self.fov:g}", int(c)])
        return text.getvalue()

    def write_csv(self, path: str | Path) -> None:
        with atomic_file(path) as tmp:
            tmp.write_text(self.to_csv(), encoding="utf-8")

    @classmethod
    def read_csv(cls, path: str | Path) -> CameraPath:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or set(rows[0]) != {"time_s", "yaw_deg", "pitch_deg", "fov_deg", "cut"}:
            raise InputError(f"{path} is not a director path (time_s,yaw_deg,pitch_deg,fov_deg,cut): rerun sstsal director")
        column = lambda key: np.array([float(r[key]) for r in rows])  # noqa: E731
        return cls(column("time_s"), column("yaw_deg"), column("pitch_deg"), float(rows[0]["fov_deg"]),
                   column("cut").astype(bool))  # fmt: skip


def direction(yaw_deg: np.ndarray | float, pitch_deg: np.ndarray | float) -> np.ndarray:
    """Unit vectors (..., 3) of yaw/pitch in degrees."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    return np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)], axis=-1)


def yaw_pitch(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch in degrees of vectors (..., 3)."""
    vectors = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(vectors[..., 0], vectors[..., 2])), np.degrees(np.arcsin(np.clip(vectors[..., 1], -1, 1)))


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in radians between unit vectors (..., 3), exact also for tiny angles."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


def pixel_directions(height: int, width: int) -> np.ndarray:
    """(H, W, 3) unit vectors of the pixel centres of an equirectangular image."""
    yaw = (np.arange(width) + 0.5) / width * 360.0 - 180.0
    pitch = 90.0 - (np.arange(height) + 0.5) / height * 180.0
    return direction(*np.meshgrid(yaw, pitch))


def normalised_maps(maps: np.ndarray) -> np.ndarray:
    """Per-frame min-max to [0, 1] (constant maps become zeros), float32 (N, H, W)."""
    maps = maps.astype(np.float32)
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)


def candidate_grid(max_pitch: float) -> np.ndarray:
    """(C, 2) yaw, pitch of the candidate view directions."""
    yaws = np.arange(-180.0, 180.0, GRID_STEP_DEG)
    limit = math.floor(max_pitch / GRID_STEP_DEG) * GRID_STEP_DEG
    pitches = np.arange(-limit, limit + GRID_STEP_DEG / 2, GRID_STEP_DEG)
    yy, pp = np.meshgrid(yaws, pitches)
    return np.stack([yy.ravel(), pp.ravel()], axis=1)


def score_kernel(candidates: np.ndarray, sigma_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, C) float32, and the pixels' (P,) solid-angle weights: the solid-angle-weighted spherical Gaussian of each candidate direction at
    the pixels of a :data:`SCORE_SIZE` map (see :func:`view_scores`)."""
    pixels = pixel_directions(SCORE_SIZE[1], SCORE_SIZE[0]).reshape(-1, 3)
    solid_angle = np.sqrt(1 - pixels[:, 1] ** 2)  # cos latitude
    kappa = 1.0 / math.radians(sigma_deg) ** 2
    kernel = np.exp(kappa * (pixels @ direction(candidates[:, 0], candidates[:, 1]).T - 1.0))  # (P, C)
    return kernel.astype(np.float32), solid_angle


def view_scores(maps01: np.ndarray, candidates: np.ndarray, sigma_deg: float, kernel=None) -> np.ndarray:
    """(N, C): the saliency each candidate direction gathers under a spherical Gaussian.

    Pixels weigh by their solid angle (cos latitude): a map is a density over the image, and
    the rows near the poles cover a sliver of the sphere. ``kernel``: :func:`score_kernel`'s
    result for these candidates and sigma (made here when None).
    """
    kernel, solid_angle = kernel if kernel is not None else score_kernel(candidates, sigma_deg)
    small = np.stack([cv2.resize(m, SCORE_SIZE, interpolation=cv2.INTER_AREA) for m in maps01])
    return (small.reshape(len(small), -1) * solid_angle) @ kernel


def choose_targets(
    scores: np.ndarray, times: np.ndarray, candidates: np.ndarray, settings: DirectorSettings
) -> np.ndarray:
    """(N, 3) target direction per sampled frame from the candidates' scores (N, C).

    The scores are smoothed over time; the target follows the peak it is on (the best candidate
    within one kernel width of it) unless another direction gathers ``switch_margin`` more, and
    is refined between the grid points (score-weighted mean of the peak's neighbours), so a
    moving peak gives a moving target rather than a staircase.
    """
    if len(times) > 1 and settings.smoothing_s > 0:
        step = float(np.median(np.diff(times)))
        scores = gaussian_filter1d(scores, settings.smoothing_s / max(step, 1e-6), axis=0, mode="nearest")
    dirs = direction(candidates[:, 0], candidates[:, 1])
    same_peak = math.cos(math.radians(settings.fov / 6))
    neighbours = math.cos(math.radians(GRID_STEP_DEG * 1.5))
    targets = np.empty((len(scores), 3))
    current = dirs[int(np.argmax(scores[0]))]
    for i, row in enumerate(scores):
        best = int(np.argmax(row))
        near = dirs @ current >= same_peak
        local = int(np.flatnonzero(near)[np.argmax(row[near])]) if near.any() else best
        pick = local if row[local] >= (1.0 - settings.switch_margin) * row[best] else best
        around = dirs @ dirs[pick] >= neighbours
        weights = row[around] - row[around].min()
        mean = weights @ dirs[around] if weights.sum() > 0 else dirs[pick]
        current = mean / np.linalg.norm(mean)
        targets[i] = current
    return targets


def frame_targets(sample_frames: np.ndarray, sample_dirs: np.ndarray, frame_count: int) -> np.ndarray:
    """(F, 3) target per output frame: along the great circle between sampled targets, held
    before the first and after the last (a jump is not interpolated: it is the spring's to take)."""
    frames = np.arange(frame_count)
    k = np.clip(np.searchsorted(sample_frames, frames, side="right") - 1, 0, len(sample_frames) - 1)
    targets = sample_dirs[k].copy()
    nxt = np.minimum(k + 1, len(sample_frames) - 1)
    span = np.maximum(sample_frames[nxt] - sample_frames[k], 1)
    w = np.clip((frames - sample_frames[k]) / span, 0, 1)[:, None]
    near = (nxt != k) & (angle_between(sample_dirs[k], sample_dirs[nxt]) < math.radians(30))
    mixed = (1 - w) * sample_dirs[k] + w * sample_dirs[nxt]
    targets[near] = mixed[near] / np.linalg.norm(mixed[near], axis=1, keepdims=True)
    return targets


def _tangent_log(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Tangent vector at p pointing to q with length the angle between them."""
    along = q - np.dot(p, q) * p
    norm = np.linalg.norm(along)
    if norm < 1e-12:
        return np.zeros(3)
    return along / norm * float(angle_between(p, q))


def _clip_pitch(p: np.ndarray, max_pitch: float) -> np.ndarray:
    yaw, pitch = yaw_pitch(p)
    return direction(yaw, np.clip(pitch, -max_pitch, max_pitch)) if abs(pitch) > max_pitch else p


def target_velocity(targets: np.ndarray, fps: float, settings: DirectorSettings) -> np.ndarray:
    """(F, 3) smoothed velocity (radians per second) of a moving target; jumps (faster than twice
    the camera's top speed) count as still.

    Fed forward to the spring, it lets the camera keep up with a steadily moving target
    instead of trailing it by ``2 * speed * response_s``.
    """
    if len(targets) < 2:
        return np.zeros_like(targets)
    step = targets[1:] - targets[:-1]
    jump = angle_between(targets[:-1], targets[1:]) * fps > 2 * math.radians(settings.max_speed)  # not a motion to follow
    step[jump] = 0.0
    velocity = np.concatenate([step, step[-1:]]) * fps
    return gaussian_filter1d(velocity, settings.response_s * fps, axis=0, mode="nearest")


def simulate_camera(
    targets: np.ndarray, fps: float, settings: DirectorSettings, velocity: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(F, 3) camera directions and (F,) cut flags for per-frame targets (F, 3) moving at
    ``velocity`` (F, 3; default :func:`target_velocity`)."""
    velocity = target_velocity(targets, fps, settings) if velocity is None else velocity
    dt = 1.0 / fps
    omega = 1.0 / settings.response_s
    max_speed, max_accel = math.radians(settings.max_speed), math.radians(settings.max_accel)
    dead, cut_angle = math.radians(settings.dead_zone), math.radians(settings.cut_angle)
    p = _clip_pitch(targets[0], settings.max_pitch)
    v = np.zeros(3)
    far_for = 0.0
    out, cuts = np.empty_like(targets), np.zeros(len(targets), dtype=bool)
    for i, target in enumerate(targets):
        if i > 0:
            error = _tangent_log(p, target)
            distance = float(np.linalg.norm(error))
            far_for = far_for + dt if distance > cut_angle else 0.0
            if distance > cut_angle and far_for >= settings.cut_after_s:
                p, v, far_for, cuts[i] = _clip_pitch(target, settings.max_pitch), np.zeros(3), 0.0, True
            else:
                if distance > cut_angle:  # wait and see whether attention stays there: no pan halfway
                    error, follow = np.zeros(3), np.zeros(3)
                else:
                    error *= max(0.0, distance - dead) / distance if distance > 0 else 0.0
                    follow = velocity[i] - np.dot(velocity[i], p) * p
                accel = omega * omega * error + 2.0 * omega * (follow - v)
                size = np.linalg.norm(accel)
                if size > max_accel:
                    accel *= max_accel / size
                v = v + accel * dt
                v -= np.dot(v, p) * p  # stay tangent to the sphere
                speed = np.linalg.norm(v)
                if speed > max_speed:
                    v *= max_speed / speed
                    speed = max_speed
                if speed > 0:  # move along the great circle by speed * dt
                    step, heading = speed * dt, v / speed
                    p, v = (math.cos(step) * p + math.sin(step) * heading,
                            speed * (math.cos(step) * heading - math.sin(step) * p))  # velocity carried along
                    p = _clip_pitch(p / np.linalg.norm(p), settings.max_pitch)
                    v -= np.dot(v, p) * p
        out[i] = p
    return out, cuts


def hold_over_warmup(values: np.ndarray, warmup: np.ndarray | None) -> np.ndarray:
    """``values`` (N, ...) with each warm-up row (``warmup`` (N,) bool) replaced by the first
    well-founded one: warm-up maps (too little temporal context) steer nothing, the first
    well-founded direction is held instead. Unchanged when none or all rows are warm-up."""
    if warmup is None or not np.any(warmup) or np.all(warmup):
        return values
    held = np.array(values, copy=True)
    held[np.asarray(warmup, bool)] = values[int(np.argmin(warmup))]
    return held


def camera_path(
    maps: np.ndarray,
    sample_frames: np.ndarray,
    *,
    fps: float,
    frame_count: int,
    settings: DirectorSettings = DirectorSettings(),
    warmup: np.ndarray | None = None,
) -> CameraPath:
    """The director's path for a video of ``frame_count`` frames at ``fps``.

    ``maps`` (N, H, W) are the saliency maps of the source frames ``sample_frames`` (N,), ascending;
    or an iterable of windows of them (``(first index, maps (K, H, W))``, as
    :meth:`sstsal.media.saliency_stack.SaliencyStack.windows` gives), so that a long video is
    read a window at a time: only the scores (N, C) of all maps are held.
    ``warmup`` (N,) bool marks warm-up maps, which hold the first well-founded direction
    (:func:`hold_over_warmup`).
    """
    candidates = candidate_grid(settings.max_pitch)
    windows = [(0, maps)] if isinstance(maps, np.ndarray) else maps
    kernel = score_kernel(candidates, settings.fov / 6)  # once: the same for every window
    parts = [view_scores(normalised_maps(window), candidates, settings.fov / 6, kernel) for _, window in windows]
    scores = np.concatenate(parts) if parts else np.zeros((0, len(candidates)), np.float32)
    scores = hold_over_warmup(scores, warmup)
    if len(scores) == 0:
        raise InputError("no saliency maps: the director needs at least one")
    if frame_count < 1 or fps <= 0:
        raise InputError(f"cannot make a camera path for {frame_count} frames at {fps} fps")
    sample_frames = np.asarray(sample_frames)
    sample_dirs = choose_targets(scores, sample_frames / fps, candidates, settings)
    dirs, cuts = simulate_camera(frame_targets(sample_frames, sample_dirs, frame_count), fps, settings)
    yaw, pitch = yaw_pitch(dirs)
    return CameraPath(np.arange(frame_count) / fps, yaw, pitch, settings.fov, cuts)


def sample_map(map01: np.ndarray, yaw: float, pitch: float) -> float:
    """Bilinear value of an equirectangular map at a direction (wrapping around the seam)."""
    height, width = map01.shape
    x = (yaw + 180.0) / 360.0 * width - 0.5
    y = min(max((90.0 - pitch) / 180.0 * height - 0.5, 0.0), height - 1.0)
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    y1 = min(y0 + 1, height - 1)
    row = lambda yy: (1 - fx) * map01[yy, x0 % width] + fx * map01[yy, (x0 + 1) % width]  # noqa: E731
    return float((1 - fy) * row(y0) + fy * row(y1))


def sphere_mean(map01: np.ndarray) -> float:
    """Mean of an equirectangular map over the sphere (rows weighted by cos latitude)."""
    height = map01.shape[0]
    weights = np.cos(np.radians(90.0 - (np.arange(height) + 0.5) / height * 180.0))
    return float((map01.mean(axis=1) * weights).sum() / weights.sum())


@dataclass(frozen=True)
class PathMeasures:
    """How well a path looks where the saliency is, and how it moves."""

    centre_ratio: float  # mean saliency at the view centre / mean saliency over the sphere
    front_ratio: float  # the same for a camera fixed at yaw 0, pitch 0 (a baseline)
    peak_ratio: float  # the same at each frame's maximum (the jittery upper bound)
    max_speed: float  # largest angular speed between cuts, degrees per second
    cuts: int

    def describe(self) -> str:
        return (
            f"saliency at the view centre / mean saliency: {self.centre_ratio:.2f} (fixed front camera "
            f"{self.front_ratio:.2f}, per-frame maximum {self.peak_ratio:.2f}); largest angular speed between "
            f"cuts {self.max_speed:.1f} deg/s; {self.cuts} cut(s)"
        )


def measure_path(path: CameraPath, maps, sample_frames: np.ndarray, fps: float) -> PathMeasures:
    """Saliency ratios at the sampled frames and the path's largest speed between cuts.

    ``maps``: (N, H, W), or windows of them as for :func:`camera_path`."""
    windows = [(0, maps)] if isinstance(maps, np.ndarray) else maps
    sample_frames = np.asarray(sample_frames)
    means, centre, front, peak = (np.zeros(len(sample_frames)) for _ in range(4))
    for first, window in windows:
        maps01 = normalised_maps(window)
        rows = np.clip(sample_frames[first : first + len(window)], 0, len(path) - 1)
        for i, (m, r) in enumerate(zip(maps01, rows), start=first):
            means[i], peak[i] = sphere_mean(m), m.max()
            centre[i], front[i] = sample_map(m, path.yaw[r], path.pitch[r]), sample_map(m, 0.0, 0.0)
    denominator = float(np.mean(means)) or 1.0
    dirs = direction(path.yaw, path.pitch)
    steps = np.degrees(angle_between(dirs[:-1], dirs[1:])) * fps
    steps = steps[~path.cut[1:]]
    return PathMeasures(
        centre_ratio=float(np.mean(centre)) / denominator,
        front_ratio=float(np.mean(front)) / denominator,
        peak_ratio=float(np.mean(peak)) / denominator,
        max_speed=float(steps.max()) if len(steps) else 0.0,
        cuts=int(path.cut.sum()),
    )
