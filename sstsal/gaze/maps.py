"""Ground truth per sampled video frame: time alignment, fixations per frame, Gaussian maps.

A sampled frame ``n`` of a video at ``fps`` frames per second stands for the time from
``n / fps`` to the next sampled frame (the last one for as long as the others). Its fixations
are every fixation of any observer whose time overlaps that window; its saliency map is the
sum over those fixations of ``exp(-d^2 / (2 sigma^2))``, ``d`` the great-circle angle between
the pixel centre and the fixation, scaled to a maximum of 1 (written as 16-bit PNG).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_directory, write_text
from sstsal.errors import InputError
from sstsal.gaze import sphere
from sstsal.gaze.fixations import Fixation, FixationSettings, identify_fixations
from sstsal.gaze.readers import GazeSamples
from sstsal.media.naming import frame_name

log = logging.getLogger(__name__)

# Bump when the maps or the fixation CSV change for the same input (reruns the workflow stage).
OUTPUT_VERSION = 1
ALIGNMENTS: tuple[str, ...] = ("auto", "time", "frame")
FIXATION_COLUMNS: tuple[str, ...] = ("video", "frame", "observer", "yaw", "pitch", "start_s", "end_s")


@dataclass(frozen=True)
class Timeline:
    """The sampled frames of a video: their numbers (source frame indices) at ``fps``."""

    fps: float
    frame_count: int
    numbers: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.frame_count < 1 or not self.numbers:
            raise InputError("a video needs a positive frame rate, at least one frame and one sampled frame")

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def windows(self) -> np.ndarray:
        """``(F, 2)`` start and end (seconds) of the time each sampled frame stands for."""
        numbers = np.asarray(self.numbers, dtype=np.float64)
        step = np.diff(numbers)
        last_step = step[-1] if len(step) else 1.0
        ends = np.append(numbers[1:], min(numbers[-1] + last_step, self.frame_count))
        return np.stack([numbers, ends], axis=1) / self.fps


@dataclass(frozen=True)
class Alignment:
    """How recording time becomes video time: ``time`` (the recording's clock, 0 at its first
    sample) or ``frame`` (the video frame index each sample records), plus ``offset_s`` seconds
    (positive when the video had already played that long at the recording's start)."""

    mode: str = "auto"
    offset_s: float = 0.0
    tolerance_s: float = 0.5

    def resolve(self, samples: list[GazeSamples]) -> str:
        if self.mode not in ALIGNMENTS:
            raise InputError(f"unknown time alignment {self.mode!r}: use one of {', '.join(ALIGNMENTS)}")
        if self.mode == "frame" and any(s.frame is None for s in samples):
            raise InputError("alignment by frame index needs a frame column in every recording; use --align time")
        if self.mode == "auto":
            return "frame" if all(s.frame is not None for s in samples) else "time"
        return self.mode

    def video_times(self, samples: GazeSamples, mode: str, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (video seconds) of each sample's time."""
        if mode == "frame":
            start = samples.frame / fps
            return start + self.offset_s, start + 1.0 / fps + self.offset_s
        time = samples.time_s
        step = np.diff(time)
        end = np.append(time[1:], time[-1] + (np.median(step) if len(step) else 0.0))
        return time + self.offset_s, end + self.offset_s


def check_coverage(observer: str, start: float, end: float, duration: float, tolerance: float) -> None:
    """A recording must cover the video (within ``tolerance`` seconds), neither shorter nor longer."""
    what = f"the recording of observer {observer} spans {start:.2f}-{end:.2f} s of video time but the video lasts {duration:.2f} s"
    if start > tolerance:
        raise InputError(f"{what}: it starts late; give --offset (seconds of video before the recording started, here about {-start:.2f})")
    if end < duration - tolerance:
        raise InputError(f"{what}: it is shorter than the video; check --fps/--video and --offset, or raise --tolerance")
    if end > duration + tolerance or start < -tolerance:
        raise InputError(f"{what}: it is longer than the video; check --fps/--video and --offset, or raise --tolerance")


@dataclass(frozen=True)
class MapSettings:
    """Size of the ground-truth maps and the Gaussian's standard deviation (the toolbox's 2 deg)."""

    width: int = 1024
    height: int = 512
    sigma_deg: float = 2.0

    def check(self) -> None:
        if self.width < 2 or self.height < 1:
            raise InputError(f"the map size must be at least 2x1, got {self.width}x{self.height}")
        if not 0 < self.sigma_deg <= 90:
            raise InputError(f"the Gaussian sigma must lie in (0, 90] degrees, got {self.sigma_deg}")


@lru_cache(maxsize=4)
def _pixel_vectors(height: int, width: int) -> np.ndarray:
    return sphere.pixel_vectors(height, width)


def gaussian_map(yaw: np.ndarray, pitch: np.ndarray, height: int, width: int, sigma_deg: float) -> np.ndarray:
    """Sum of spherical Gaussians of angular distance at the given directions: ``(H, W)`` float64."""
    pixels = _pixel_vectors(height, width)
    sigma = np.radians(sigma_deg)
    out = np.zeros((height, width))
    for vector in sphere.to_vectors(np.atleast_1d(yaw), np.atleast_1d(pitch)):
        # Only rows within 6 sigma in latitude can contribute more than exp(-18).
        centre = np.degrees(np.arcsin(np.clip(vector[1], -1, 1)))
        top = int(np.clip(np.floor((90 - centre - 6 * sigma_deg) / 180 * height), 0, height))
        bottom = int(np.clip(np.ceil((90 - centre + 6 * sigma_deg) / 180 * height) + 1, 0, height))
        band = pixels[top:bottom]
        angle = np.arccos(np.clip(band @ vector, -1.0, 1.0))
        out[top:bottom] += np.exp(-(angle**2) / (2 * sigma**2))
    return out


@dataclass
class FrameTruth:
    """The ground truth of one sampled frame."""

    number: int
    fixations: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # observer, yaw, pitch, start, end


@dataclass
class GroundTruth:
    """Fixations per sampled frame of one video, and what was done to get them."""

    video: str
    timeline: Timeline
    frames: list[FrameTruth]
    fixations: list[tuple[Fixation, float, float]]  # each fixation with its video start and end
    record: dict

    def observers(self) -> list[str]:
        return sorted({f.observer for f, _, _ in self.fixations})


def build_ground_truth(
    video: str,
    samples: list[GazeSamples],
    timeline: Timeline,
    *,
    fixation_settings: FixationSettings = FixationSettings(),
    alignment: Alignment = Alignment(),
) -> GroundTruth:
    """Fixations of every observer, aligned to video time and assigned to the sampled frames."""
    if not samples:
        raise InputError("no gaze recordings to build ground truth from")
    fixation_settings.check()
    mode = alignment.resolve(samples)
    windows = timeline.windows()
    frames = [FrameTruth(n) for n in timeline.numbers]
    aligned: list[tuple[Fixation, float, float]] = []
    per_observer = {}
    for recording in samples:
        starts, ends = alignment.video_times(recording, mode, timeline.fps)
        check_coverage(recording.observer, float(starts[0]), float(ends[-1]), timeline.duration_s, alignment.tolerance_s)
        found = identify_fixations(recording, fixation_settings)
        per_observer[recording.observer] = {"samples": len(recording.time_s), "fixations": len(found), "notes": recording.notes}
        for fixation in found:
            start, end = float(starts[fixation.first]), float(ends[fixation.last])
            aligned.append((fixation, start, end))
            hits = np.flatnonzero((start < windows[:, 1]) & (end > windows[:, 0]))
            for index in hits:
                # Rounded as the CSV stores them, so every consumer places them on the same pixel.
                frames[index].fixations.append((fixation.observer, round(fixation.yaw, 4), round(fixation.pitch, 4), start, end))
    empty = sum(1 for f in frames if not f.fixations)
    if empty == len(frames):
        raise InputError("no fixation falls on any sampled frame: check the time alignment (--align, --offset) and --fps")
    if empty:
        log.warning("%d of %d sampled frame(s) have no fixation; they get no ground-truth map", empty, len(frames))
    record = {
        "video": video,
        "output_version": OUTPUT_VERSION,
        "fps": timeline.fps,
        "frame_count": timeline.frame_count,
        "frames": len(frames),
        "frames_without_fixations": empty,
        "alignment": {"mode": mode, "offset_s": alignment.offset_s, "tolerance_s": alignment.tolerance_s},
        "fixation": fixation_settings.record(),
        "observers": per_observer,
    }
    return GroundTruth(video, timeline, frames, aligned, record)


class FrameMaps(Mapping):
    """The saliency map (max 1) of every sampled frame that has fixations: number -> ``(H, W)``,
    each drawn when it is asked for, so that a long video's maps are never all in memory."""

    def __init__(self, truth: GroundTruth, settings: MapSettings) -> None:
        settings.check()
        self.settings = settings
        self._frames = {frame.number: frame for frame in truth.frames if frame.fixations}

    def __getitem__(self, number: int) -> np.ndarray:
        frame = self._frames[number]
        yaw = np.array([f[1] for f in frame.fixations])
        pitch = np.array([f[2] for f in frame.fixations])
        saliency = gaussian_map(yaw, pitch, self.settings.height, self.settings.width, self.settings.sigma_deg)
        return saliency / saliency.max()

    def __iter__(self) -> Iterator[int]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)


def frame_maps(truth: GroundTruth, settings: MapSettings) -> FrameMaps:
    """The saliency map (max 1) of every sampled frame that has fixations: number -> ``(H, W)``
    (a mapping that draws each map when asked, see :class:`FrameMaps`)."""
    return FrameMaps(truth, settings)


def to_uint16(saliency: np.ndarray) -> np.ndarray:
    """A map of maximum 1 as 16-bit integers (lossless enough: steps of 1.5e-5)."""
    return np.round(np.clip(saliency, 0.0, 1.0) * 65535).astype(np.uint16)


def fixations_csv(truth: GroundTruth) -> str:
    """One row per fixation and sampled frame it falls on (the CSV ``sstsal evaluate --fixations`` reads)."""
    lines = [",".join(FIXATION_COLUMNS)]
    for frame in truth.frames:
        for observer, yaw, pitch, start, end in frame.fixations:
            lines.append(f"{truth.video},{frame.number},{observer},{yaw:.4f},{pitch:.4f},{start:.4f},{end:.4f}")
    return "\n".join(lines) + "\n"


def write_ground_truth(truth: GroundTruth, maps: Mapping[int, np.ndarray], out_root: str | Path, settings: MapSettings) -> Path:
    """``out_root/<video>/<video>_<frame>.png`` (16-bit maps), ``out_root/<video>.csv`` (fixations)
    and ``out_root/<video>.json`` (the record); the layout ``sstsal evaluate``, ``sstsal train`` and
    the workflow's ``ground_truth:`` read. Returns the map folder."""
    out_root = Path(out_root)
    folder = out_root / truth.video
    with atomic_directory(folder) as tmp:
        for number, saliency in maps.items():
            name = frame_name(truth.video, number)
            if not cv2.imwrite(str(tmp / name), to_uint16(saliency)):
                raise OSError(f"could not write {folder / name}: is the folder writable, is the disk full?")
    write_text(out_root / f"{truth.video}.csv", fixations_csv(truth))
    record = dict(truth.record, map=asdict(settings))
    write_text(out_root / f"{truth.video}.json", json.dumps(record, indent=1) + "\n")
    return folder
