"""Fixation identification on the sphere: I-VT with angular velocity.

Defaults follow the Salient360! toolbox: a sample belongs to a fixation when the great-circle
angle to the next sample divided by the time between them is at most 120 deg/s; a single
sample whose label differs from both neighbours takes its predecessor's label (noise, not an
event); fixations shorter than 80 ms become saccade samples. A fixation's direction is the
normalised mean of its samples' unit vectors; it lasts from its first sample to the sample
after its last one.

With ``smoothing_window`` the velocity is smoothed by a Savitzky-Golay filter (that window in
samples, polynomial order ``smoothing_order``) before the threshold, as the toolbox's video script
does (window 9, order 2, on gaze resampled to 90 Hz).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sstsal.errors import InputError
from sstsal.gaze import sphere
from sstsal.gaze.readers import GazeSamples

METHODS: tuple[str, ...] = ("ivt", "samples", "recorded")


@dataclass(frozen=True)
class FixationSettings:
    """How fixations are identified: ``ivt`` (velocity threshold), ``samples`` (every valid
    sample is a fixation point, for head-only data or maps of raw gaze) or ``recorded`` (the
    dataset's own fixation labels, as D-SAV360 publishes them)."""

    method: str = "ivt"
    velocity_threshold_deg_s: float = 120.0
    min_duration_s: float = 0.080
    smoothing_window: int = 0  # Savitzky-Golay window of the velocity in samples; 0: not smoothed
    smoothing_order: int = 2

    def check(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown fixation method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.smoothing_window and (self.smoothing_window % 2 == 0 or self.smoothing_window <= self.smoothing_order
                                      or self.smoothing_order < 0):  # fmt: skip
            raise InputError(f"the Savitzky-Golay window must be an odd number of samples above the order (0 for none), "
                             f"got window {self.smoothing_window}, order {self.smoothing_order}")  # fmt: skip
        if self.velocity_threshold_deg_s <= 0:
            raise InputError(f"the I-VT velocity threshold must be positive, got {self.velocity_threshold_deg_s} deg/s")
        if self.min_duration_s < 0:
            raise InputError(f"the minimum fixation duration cannot be negative, got {self.min_duration_s} s")

    def record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fixation:
    """One fixation of one observer; times on the recording's clock, sample indices into it."""

    observer: str
    yaw: float
    pitch: float
    start_s: float
    end_s: float
    first: int  # index of the first sample
    last: int  # index of the last sample


def angular_velocity(samples: GazeSamples) -> np.ndarray:
    """``(N,)`` deg/s from each sample to the next (the last repeats the one before)."""
    vectors = sphere.to_vectors(samples.yaw, samples.pitch)
    if len(vectors) < 2:
        return np.zeros(len(vectors))
    angle = np.degrees(sphere.angular_distance(vectors[1:], vectors[:-1]))
    step = np.diff(samples.time_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        velocity = np.where(step > 0, angle / np.where(step > 0, step, 1.0), np.inf)
    return np.append(velocity, velocity[-1])


def smoothed_velocity(samples: GazeSamples, settings: FixationSettings) -> np.ndarray:
    """``(N,)`` deg/s, smoothed as ``settings`` say (unchanged when the recording is shorter than the window)."""
    velocity = angular_velocity(samples)
    if not settings.smoothing_window or len(velocity) < settings.smoothing_window:
        return velocity
    from scipy.signal import savgol_filter

    # A repeated timestamp (infinite velocity) stays a saccade after smoothing.
    finite = np.nan_to_num(velocity, posinf=1e6)
    return savgol_filter(finite, settings.smoothing_window, settings.smoothing_order)


def _flip_isolated(labels: np.ndarray) -> None:
    """A label differing from both neighbours takes its predecessor's (in place, left to right)."""
    for i in range(1, len(labels) - 1):
        if labels[i] != labels[i - 1] and labels[i] != labels[i + 1]:
            labels[i] = labels[i - 1]


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` sample indices of every run of True."""
    padded = np.concatenate(([False], labels, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def fixation_labels(samples: GazeSamples, settings: FixationSettings) -> np.ndarray:
    """``(N,)`` bool: which samples belong to a fixation."""
    settings.check()
    if settings.method == "samples":
        return np.ones(len(samples.time_s), dtype=bool)
    if settings.method == "recorded":
        if samples.recorded_fixation is None:
            raise InputError(f"observer {samples.observer}: the recording holds no fixation labels of its own "
                             "(or they were resampled away): use --fixations ivt")  # fmt: skip
        return samples.recorded_fixation.copy()
    labels = smoothed_velocity(samples, settings) <= settings.velocity_threshold_deg_s
    _flip_isolated(labels)
    time = samples.time_s
    for first, last in _runs(labels):
        end = time[last + 1] if last + 1 < len(time) else time[last]
        if end - time[first] < settings.min_duration_s:
            labels[first : last + 1] = False
    return labels


def identify_fixations(samples: GazeSamples, settings: FixationSettings = FixationSettings()) -> list[Fixation]:
    """The fixations of one observer, in time order."""
    labels = fixation_labels(samples, settings)
    vectors = sphere.to_vectors(samples.yaw, samples.pitch)
    time = samples.time_s
    fixations = []
    if settings.method == "samples":
        step = np.append(np.diff(time), np.diff(time)[-1:] if len(time) > 1 else [0.0])
        for i in range(len(time)):
            fixations.append(Fixation(samples.observer, float(samples.yaw[i]), float(samples.pitch[i]),
                                      float(time[i]), float(time[i] + step[i]), i, i))  # fmt: skip
        return fixations
    for first, last in _runs(labels):
        yaw, pitch = sphere.to_angles(vectors[first : last + 1].mean(axis=0)[None])
        end = time[last + 1] if last + 1 < len(time) else time[last]
        fixations.append(Fixation(samples.observer, float(yaw[0]), float(pitch[0]), float(time[first]), float(end), first, last))
    return fixations
