"""Baselines scored beside every prediction, since a metric value means little alone.

* ``equator_bias`` - a Gaussian band around the horizon, ``exp(-pitch^2 / (2 sigma^2))``: people
  in 360 degree video look near the horizon. ``sigma`` is fitted on the video's ground truth
  (the root mean square pitch of its fixations, or of its maps' mass on the sphere without
  fixations) unless given.
* ``centre_bias`` - a Gaussian of angular distance from the image centre (yaw 0, pitch 0), with
  ``sigma`` fitted as ``sqrt(mean(d^2) / 2)`` over the fixations' distances ``d`` to the centre
  (the maximum-likelihood width of a 2-D Gaussian), or from the maps' mass, unless given.
* ``inter_observer`` - the upper bound of how well people predict each other: for every
  observer of a frame, the map of the *other* observers' fixations (Gaussians of ``sigma`` =
  the ground truth's, 2 deg by default) scored against that observer's fixations (NSS, AUC)
  and against the map of that observer's own fixations (CC, SIM, KLD), averaged over the
  observers. Needs an ``observer`` column in the fixations and two observers in a frame.

The fitted widths are fitted on the very data they are scored on: they describe the best such
a simple bias can do on this video, and are stated in ``metrics.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sstsal.errors import InputError
from sstsal.gaze.maps import gaussian_map
from sstsal.gaze.sphere import angular_distance, to_vectors

BASELINES: tuple[str, ...] = ("equator_bias", "centre_bias", "inter_observer")


@dataclass(frozen=True)
class BaselineSettings:
    """Widths in degrees; ``None``: fitted on the video's ground truth."""

    equator_sigma_deg: float | None = None
    centre_sigma_deg: float | None = None
    inter_observer_sigma_deg: float = 2.0

    def check(self) -> None:
        for name, value in (("equator", self.equator_sigma_deg), ("centre", self.centre_sigma_deg),
                            ("inter-observer", self.inter_observer_sigma_deg)):  # fmt: skip
            if value is not None and not 0 < value <= 180:
                raise InputError(f"the {name} baseline's sigma must lie in (0, 180] degrees, got {value}")


def _row_pitch(height: int) -> np.ndarray:
    return 90.0 - (np.arange(height) + 0.5) / height * 180.0


def equator_map(height: int, width: int, sigma_deg: float) -> np.ndarray:
    """The equator-bias map: ``(H, W)``, 1 on the horizon."""
    band = np.exp(-(_row_pitch(height) ** 2) / (2 * sigma_deg**2))
    return np.repeat(band[:, None], width, axis=1)


def centre_map(height: int, width: int, sigma_deg: float) -> np.ndarray:
    """The centre-bias map: a spherical Gaussian at yaw 0, pitch 0."""
    return gaussian_map(np.array([0.0]), np.array([0.0]), height, width, sigma_deg)


def fit_widths(yaw: np.ndarray, pitch: np.ndarray) -> tuple[float, float]:
    """Equator and centre sigmas (degrees) fitted on fixation directions."""
    if len(yaw) == 0:
        raise InputError("no fixations to fit the baselines on")
    equator = math.sqrt(float(np.mean(np.asarray(pitch) ** 2)))
    distance = np.degrees(angular_distance(to_vectors(yaw, pitch), to_vectors(0.0, 0.0)))
    centre = math.sqrt(float(np.mean(distance**2)) / 2)
    return max(equator, 0.5), max(centre, 0.5)  # never narrower than half a degree: a point is no baseline


def fit_widths_from_maps(maps: Iterable[np.ndarray]) -> tuple[float, float]:
    """Equator and centre sigmas fitted on the mass of ground-truth maps over the sphere (read one
    at a time from an iterable)."""
    total = None
    for saliency in maps:
        mass = np.clip(saliency, 0, None) / max(float(saliency.sum()), 1e-12)
        total = mass if total is None else total + mass
    if total is None or total.sum() <= 0:
        raise InputError("no ground-truth maps to fit the baselines on")
    height, width = total.shape
    pitch = _row_pitch(height)
    yaw = (np.arange(width) + 0.5) / width * 360.0 - 180.0
    weights = total * np.cos(np.radians(pitch))[:, None]
    weights = weights / weights.sum()
    equator = math.sqrt(float((weights * pitch[:, None] ** 2).sum()))
    distance = np.degrees(angular_distance(to_vectors(yaw[None, :], pitch[:, None]), to_vectors(0.0, 0.0)))
    centre = math.sqrt(float((weights * distance**2).sum()) / 2)
    return max(equator, 0.5), max(centre, 0.5)
