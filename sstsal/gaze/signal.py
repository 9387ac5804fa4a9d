"""The gaze signal before fixations are identified: where it starts, resampling, velocity outliers.

Run by :func:`prepare_samples` on every observer's :class:`GazeSamples`, in this order:

1. ``start_frame``: drop the samples before the first one whose recorded video frame is at least
   that frame (the Salient360! toolbox's video script starts at frame 1: its player holds frame 0
   on screen while it starts).
2. ``resample_hz``: samples at that rate, from the first sample on. Where the reader kept the head
   rotation and the eye-in-head direction apart (``salient360``), each is interpolated on its own
   through the samples where it changes (the head through a rotation spline, the eye through a
   cubic spline), so the 90 Hz head updates of a 250 Hz eye stream do not make steps in the gaze;
   otherwise the gaze direction is (cubic spline of the unit vectors). Like the toolbox, the
   splines run across blinks. Each new sample shows the video frame the recording last reported at
   or before its time (a frame the headset skipped is never reported).
3. ``outlier_sd``: drop the samples whose angular velocity lies more than that many standard
   deviations from the mean (the toolbox's ``return_keep``, 5 SD in its video script).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sstsal.errors import InputError
from sstsal.gaze import sphere
from sstsal.gaze.fixations import angular_velocity
from sstsal.gaze.readers import GazeSamples


@dataclass(frozen=True)
class SignalSettings:
    """Where the signal starts, the rate it is resampled to and the velocity outliers dropped
    (``None``: not done)."""

    start_frame: int | None = None
    resample_hz: float | None = None
    outlier_sd: float | None = None

    def check(self) -> None:
        if self.start_frame is not None and self.start_frame < 0:
            raise InputError(f"the first frame to keep cannot be negative, got {self.start_frame}")
        if self.resample_hz is not None and not 1.0 <= self.resample_hz <= 10000.0:
            raise InputError(f"the resampling rate must lie in [1, 10000] Hz, got {self.resample_hz}")
        if self.outlier_sd is not None and self.outlier_sd <= 0:
            raise InputError(f"the velocity outlier limit must be a positive number of standard deviations, got {self.outlier_sd}")

    def record(self) -> dict:
        return asdict(self)


def start_at_frame(samples: GazeSamples, frame: int) -> GazeSamples:
    """The samples from the first one whose recorded frame is at least ``frame`` on; times from it."""
    if samples.frame is None:
        raise InputError(f"observer {samples.observer}: starting at frame {frame} needs a recording with a frame column")
    shown = np.flatnonzero(samples.frame >= frame)
    if len(shown) < 2:
        raise InputError(f"observer {samples.observer}: the recording never shows frame {frame} (its last frame is {samples.frame.max()})")
    first = int(shown[0])
    kept = samples.select(np.arange(len(samples.time_s)) >= first)
    kept.time_s = kept.time_s - kept.time_s[0]
    if first:
        kept.notes.append(f"started at frame {frame}: dropped {first} sample(s) before it")
    return kept


def _changes(values: np.ndarray) -> np.ndarray:
    """Indices where a value differs from the one before (the first always): a tracker that
    repeats its last value between updates gives no new information there."""
    flat = values.reshape(len(values), -1)
    return np.flatnonzero(np.concatenate(([True], np.any(flat[1:] != flat[:-1], axis=1))))


def resample(samples: GazeSamples, rate_hz: float) -> GazeSamples:
    """The samples at ``rate_hz`` from the first one to the last (see the module docstring)."""
    from scipy.interpolate import CubicSpline

    time = samples.time_s
    if len(time) < 4 or np.any(np.diff(time) <= 0):
        raise InputError(f"observer {samples.observer}: resampling needs at least 4 samples at increasing times")
    grid = time[0] + np.arange(int(np.floor((time[-1] - time[0]) * rate_hz)) + 1) / rate_hz
    head = eye = None
    if samples.head is not None and samples.eye is not None:
        from scipy.spatial.transform import Rotation, RotationSpline

        knots = _changes(samples.head)
        rotations = Rotation.from_matrix(samples.head[knots])
        if len(knots) >= 2:
            head = RotationSpline(time[knots], rotations)(np.clip(grid, time[knots[0]], time[knots[-1]])).as_matrix()
        else:
            head = np.repeat(rotations.as_matrix(), len(grid), axis=0)
        knots = _changes(samples.eye)
        eye = CubicSpline(time[knots], samples.eye[knots], axis=0)(grid) if len(knots) >= 4 else np.repeat(samples.eye[:1], len(grid), 0)
        eye /= np.linalg.norm(eye, axis=1, keepdims=True)
        vectors = np.einsum("nij,nj->ni", head, eye)
    else:
        vectors = CubicSpline(time, sphere.to_vectors(samples.yaw, samples.pitch), axis=0)(grid)
    yaw, pitch = sphere.to_angles(vectors)
    frame = None if samples.frame is None else samples.frame[np.searchsorted(time, grid, side="right") - 1]
    notes = list(samples.notes) + [f"resampled from {len(time)} to {len(grid)} sample(s) at {rate_hz:g} Hz"]
    # The dataset's own fixation labels belong to its samples: not carried to new ones.
    return GazeSamples(samples.observer, grid, yaw, pitch, frame, notes, head=head, eye=eye)


def drop_velocity_outliers(samples: GazeSamples, limit_sd: float) -> GazeSamples:
    """The samples whose velocity to the next lies within ``limit_sd`` standard deviations of the mean."""
    velocity = angular_velocity(samples)
    finite = np.isfinite(velocity)
    spread = velocity[finite].std()
    keep = finite & (np.abs(velocity - velocity[finite].mean()) < limit_sd * spread if spread > 0 else finite)
    kept = samples.select(keep)
    if (~keep).any():
        kept.notes.append(f"dropped {int((~keep).sum())} sample(s) whose velocity lies {limit_sd:g} SD or more from the mean")
    return kept


def prepare_samples(samples: GazeSamples, settings: SignalSettings) -> GazeSamples:
    """One observer's samples as fixation identification sees them (see the module docstring)."""
    settings.check()
    if settings.start_frame is not None:
        samples = start_at_frame(samples, settings.start_frame)
    if settings.resample_hz is not None:
        samples = resample(samples, settings.resample_hz)
    if settings.outlier_sd is not None:
        samples = drop_velocity_outliers(samples, settings.outlier_sd)
    return samples
