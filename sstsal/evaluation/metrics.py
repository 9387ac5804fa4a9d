"""Saliency metrics for equirectangular maps, each in a planar and a sphere-aware form.

Conventions (shared by every metric; ``pred`` is the predicted saliency map, ``gt`` the
ground-truth saliency (fixation density) map, both ``(H, W)`` arrays of the same size,
computed in float64; ``fixations`` is an ``(N, 2)`` integer array of ``(row, col)`` pixels):

* **Pixel weights.** The planar form gives every pixel the same weight. The sphere-aware
  form weights pixel row ``i`` by ``cos(latitude)`` at the pixel *centre*,
  ``latitude = pi/2 - (i + 0.5) * pi / H``. That is exactly proportional to the solid angle the
  pixel covers (``dphi * 2 sin(dtheta/2) cos(latitude)``) and to the weights of the published
  spherical KL loss (``dphi * dtheta * (sin theta_i + sin theta_{i+1}) / 2``), so a map is read
  as a density over the sphere rather than over the image. Weights are normalised to sum to 1,
  so every weighted mean below is a mean over the sphere.
* **CC** - Pearson correlation with weighted means and (population) variances. A constant
  ``pred`` gives 0 (no information); a constant ``gt`` gives NaN (undefined), as in pysaliency.
* **SIM** - both maps are made non-negative (shifted by their minimum when it is negative) and
  turned into probability masses ``P = w*pred / sum(w*pred)`` (an all-zero map becomes the
  uniform distribution); ``SIM = sum(min(P, G))``.
* **KLD** - ``KL(gt || pred) = sum(G * log(eps + G / (P + eps)))`` with masses as for SIM and
  ``eps = 2.2204e-16`` (the MIT/Tuebingen benchmark's regularisation, pysaliency ``MIT_KLDiv``
  with the ground truth as second argument). Lower is better; the ground truth is the reference.
* **NSS** - ``pred`` standardised with its weighted mean and population standard deviation
  (``ddof=0`` as pysaliency; the MIT MATLAB code uses ``ddof=1``, a negligible difference at
  these sizes), averaged over the fixations; every fixation counts, also repeated ones. A
  constant ``pred`` gives 0. Fixations are points sampled on the sphere already, so they are
  not re-weighted: the sphere-aware form changes only the standardisation. Because the
  equirectangular image over-counts the sphere near the poles (by pi/2 on average), a map
  concentrated at the equator has a sphere-aware NSS of about ``sqrt(2/pi) = 0.80`` times its
  planar NSS; the other five metrics agree with their planar forms on such maps.
* **AUC-Judd** - positives: ``pred`` at each fixation; negatives: every pixel that no fixation
  falls on (weighted by ``w`` in the sphere-aware form); thresholds: the distinct fixated
  values. TPR/FPR use ``>=``; the curve runs from (0, 0) to (1, 1) and is integrated with the
  trapezoid rule. No random jitter is added (MIT and pysaliency add 1e-7 noise to break ties),
  so values are deterministic and ties count against the prediction: equal to pysaliency's
  ``AUC_Judd(jitter=False)``.
* **AUC-Borji** - ``pred`` min-max normalised to [0, 1]; thresholds ``0, step, 2 step, ...``
  up to the maximum (``step = 0.1``); TPR from the fixations, FPR from nonfixations drawn
  uniformly over the image (planar) or over the sphere (sphere-aware). The MIT code averages
  100 random draws of as many nonfixations as fixations; because the trapezoid area is linear
  in the FPR values, that average converges to the area computed with the *exact* fraction of
  pixels (or of the sphere) above each threshold, which is what we return by default
  (deterministic). ``n_splits=100`` reproduces the random MIT procedure instead.
* A constant ``pred`` gives AUC 0.5 (both curves collapse to the diagonal).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from sstsal.errors import InputError

#: Regularisation of KLD, as in the MIT/Tuebingen saliency benchmark (MATLAB's ``eps``).
KLD_EPS = 2.2204e-16

#: Column names of one evaluated frame, planar then sphere-aware.
METRIC_NAMES: tuple[str, ...] = ("cc", "sim", "kld", "nss", "auc_judd", "auc_borji")
SPHERE_METRIC_NAMES: tuple[str, ...] = tuple(f"{name}_sphere" for name in METRIC_NAMES)
#: Metrics that need fixations (the others need a ground-truth map).
FIXATION_METRICS: frozenset[str] = frozenset({"nss", "auc_judd", "auc_borji"})


@lru_cache(maxsize=16)
def _row_weights(height: int) -> np.ndarray:
    latitude = math.pi / 2 - (np.arange(height, dtype=np.float64) + 0.5) * math.pi / height
    return np.cos(latitude)


def solid_angle_weights(height: int, width: int) -> np.ndarray:
    """Per-pixel solid-angle weights of an equirectangular image, summing to 1: ``(H, W)`` float64."""
    if height < 1 or width < 1:
        raise InputError(f"an equirectangular map needs a positive size, got {height}x{width}")
    row = _row_weights(height)
    weights = np.repeat(row[:, None], width, axis=1)
    return weights / weights.sum()


def _pixel_weights(shape: tuple[int, int], sphere: bool) -> np.ndarray:
    if sphere:
        return solid_angle_weights(*shape)
    return np.full(shape, 1.0 / (shape[0] * shape[1]))


def _as_map(name: str, saliency_map: np.ndarray) -> np.ndarray:
    array = np.asarray(saliency_map, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"{name} must be a 2-D (H, W) saliency map, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values")
    return array


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred_map, gt_map = _as_map("pred", pred), _as_map("gt", gt)
    if pred_map.shape != gt_map.shape:
        raise InputError(
            f"prediction {pred_map.shape} and ground truth {gt_map.shape} differ in size: resize the "
            "prediction to the ground truth first (sstsal evaluate does this)"
        )
    return pred_map, gt_map


def _fixation_pixels(fixations: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    pixels = np.asarray(fixations)
    if pixels.ndim != 2 or pixels.shape[1] != 2 or len(pixels) == 0:
        raise InputError(f"fixations must be a non-empty (N, 2) array of (row, col) pixels, got shape {pixels.shape}")
    if not np.issubdtype(pixels.dtype, np.integer):
        raise InputError("fixations must be integer (row, col) pixel indices; convert with fixations_to_pixels()")
    rows, cols = pixels[:, 0], pixels[:, 1]
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= shape[0] or cols.max() >= shape[1]:
        raise InputError(f"fixations fall outside the {shape[0]}x{shape[1]} map")
    return pixels.astype(np.intp)


def _probability_mass(saliency_map: np.ndarray, weights: np.ndarray) -> np.ndarray:
    if saliency_map.min() < 0:
        saliency_map = saliency_map - saliency_map.min()
    mass = weights * saliency_map
    total = mass.sum()
    # An all-zero map carries no preference: read it as the uniform density (as pysaliency does).
    return mass / total if total > 0 else weights.copy()


def cc(pred: np.ndarray, gt: np.ndarray, *, sphere: bool = False) -> float:
    """Pearson correlation coefficient of two ``(H, W)`` maps (weighted over the sphere if ``sphere``)."""
    pred_map, gt_map = _pair(pred, gt)
    weights = _pixel_weights(pred_map.shape, sphere)
    pred_c = pred_map - (weights * pred_map).sum()
    gt_c = gt_map - (weights * gt_map).sum()
    var_pred = (weights * pred_c * pred_c).sum()
    var_gt = (weights * gt_c * gt_c).sum()
    if var_gt <= 0:
        return math.nan
    if var_pred <= 0:
        return 0.0
    return float((weights * pred_c * gt_c).sum() / math.sqrt(var_pred * var_gt))


def sim(pred: np.ndarray, gt: np.ndarray, *, sphere: bool = False) -> float:
    """Similarity (histogram intersection) of the two maps as distributions, in [0, 1]."""
    pred_map, gt_map = _pair(pred, gt)
    weights = _pixel_weights(pred_map.shape, sphere)
    return float(np.minimum(_probability_mass(pred_map, weights), _probability_mass(gt_map, weights)).sum())


def kld(pred: np.ndarray, gt: np.ndarray, *, sphere: bool = False) -> float:
    """KL divergence of the prediction from the ground truth, ``KL(gt || pred)``; lower is better."""
    pred_map, gt_map = _pair(pred, gt)
    weights = _pixel_weights(pred_map.shape, sphere)
    p = _probability_mass(pred_map, weights)
    g = _probability_mass(gt_map, weights)
    return float((g * np.log(KLD_EPS + g / (p + KLD_EPS))).sum())


def nss(pred: np.ndarray, fixations: np.ndarray, *, sphere: bool = False) -> float:
    """Normalised scanpath saliency: mean standardised ``pred`` at the ``(N, 2)`` fixated pixels."""
    pred_map = _as_map("pred", pred)
    pixels = _fixation_pixels(fixations, pred_map.shape)
    weights = _pixel_weights(pred_map.shape, sphere)
    mean = (weights * pred_map).sum()
    std = math.sqrt(max((weights * (pred_map - mean) ** 2).sum(), 0.0))
    if std == 0:
        return 0.0
    return float(((pred_map[pixels[:, 0], pixels[:, 1]] - mean) / std).mean())


def _roc_area(tpr: np.ndarray, fpr: np.ndarray) -> float:
    tpr = np.concatenate(([0.0], tpr, [1.0]))
    fpr = np.concatenate(([0.0], fpr, [1.0]))
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoid rule (np.trapz is gone in NumPy 2)


def _fraction_at_or_above(values: np.ndarray, weights: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Weighted fraction of ``values`` that are ``>= t``, for each of the (few) ``thresholds``.

    A weighted histogram over the threshold intervals: O(N log K) instead of sorting the N values.
    """
    order = np.argsort(thresholds, kind="stable")
    ascending = thresholds[order]
    # bucket[n] = how many thresholds values[n] reaches; values[n] >= ascending[i] <=> bucket[n] > i
    bucket = np.searchsorted(ascending, values, side="right")
    histogram = np.bincount(bucket, weights=weights, minlength=len(ascending) + 1)
    reached = np.cumsum(histogram[::-1])[::-1]  # reached[m] = weight of the values with bucket >= m
    fractions = np.empty(len(thresholds))
    fractions[order] = reached[1:] / reached[0]
    return fractions


def auc_judd(pred: np.ndarray, fixations: np.ndarray, *, sphere: bool = False) -> float:
    """AUC-Judd: fixated values against all unfixated pixels, thresholds at the fixated values."""
    pred_map = _as_map("pred", pred)
    pixels = _fixation_pixels(fixations, pred_map.shape)
    weights = _pixel_weights(pred_map.shape, sphere)
    positives = pred_map[pixels[:, 0], pixels[:, 1]]
    unfixated = np.ones(pred_map.shape, dtype=bool)
    unfixated[pixels[:, 0], pixels[:, 1]] = False
    if not unfixated.any():
        raise InputError("AUC-Judd needs at least one pixel without a fixation")
    thresholds = np.unique(positives)[::-1]
    tpr = (positives[None, :] >= thresholds[:, None]).mean(axis=1)
    fpr = _fraction_at_or_above(pred_map[unfixated], weights[unfixated], thresholds)
    return _roc_area(tpr, fpr)


def auc_borji(
    pred: np.ndarray,
    fixations: np.ndarray,
    *,
    sphere: bool = False,
    step: float = 0.1,
    n_splits: int | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    """AUC-Borji: fixated values against uniformly drawn nonfixations, thresholds every ``step``.

    ``n_splits=None`` (default) returns the expectation over the random nonfixations exactly;
    an integer draws that many sets of ``N`` nonfixations (with replacement, from ``rng``, by
    default seeded with 0) and averages, like the MIT code with ``Nsplits``.
    """
    if not 0 < step <= 1:
        raise InputError(f"the AUC-Borji threshold step must lie in (0, 1], got {step}")
    pred_map = _as_map("pred", pred)
    pixels = _fixation_pixels(fixations, pred_map.shape)
    weights = _pixel_weights(pred_map.shape, sphere)
    low, high = pred_map.min(), pred_map.max()
    normalised = (pred_map - low) / (high - low) if high > low else np.zeros_like(pred_map)
    positives = normalised[pixels[:, 0], pixels[:, 1]]
    # Thresholds from the maximum down to 0 in steps of `step` (MIT: fliplr(0:step:max)).
    # MIT uses fliplr(0:step:max) with max over the fixated and drawn values; thresholds above
    # that only repeat the point (0, 0), so the fixed grid up to the map's maximum is equivalent.
    thresholds = (np.arange(int(math.floor(normalised.max() / step + 1e-9)) + 1) * step)[::-1]
    tpr = (positives[None, :] >= thresholds[:, None]).mean(axis=1)
    flat_values, flat_weights = normalised.ravel(), weights.ravel()
    if n_splits is None:
        return _roc_area(tpr, _fraction_at_or_above(flat_values, flat_weights, thresholds))
    if n_splits < 1:
        raise InputError(f"n_splits must be at least 1 (or None for the exact expectation), got {n_splits}")
    rng = np.random.default_rng(0) if rng is None else rng
    areas = []
    for _ in range(n_splits):
        drawn = flat_values[rng.choice(flat_values.size, size=len(positives), replace=True, p=flat_weights)]
        fpr = (drawn[None, :] >= thresholds[:, None]).mean(axis=1)
        areas.append(_roc_area(tpr, fpr))
    return float(np.mean(areas))


def fixations_to_pixels(
    yaw_deg: np.ndarray, pitch_deg: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Map gaze directions to equirectangular pixels: ``(N,)`` degrees -> ``(N, 2)`` int ``(row, col)``.

    Yaw (longitude) is 0 at the image centre and grows to the right (east), wrapping at
    +-180; pitch (latitude) is +90 at the top row and -90 at the bottom row.
    """
    yaw = np.asarray(yaw_deg, dtype=np.float64)
    pitch = np.asarray(pitch_deg, dtype=np.float64)
    if np.any(np.abs(pitch) > 90):
        raise InputError("pitch must lie in [-90, 90] degrees (latitude, positive up)")
    cols = np.floor(((yaw + 180.0) % 360.0) / 360.0 * width).astype(np.int64) % width
    rows = np.clip(np.floor((90.0 - pitch) / 180.0 * height).astype(np.int64), 0, height - 1)
    return np.stack([rows, cols], axis=1)


def evaluate_frame(
    pred: np.ndarray,
    gt: np.ndarray | None = None,
    fixations: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of one frame, planar and sphere-aware, keyed by :data:`METRIC_NAMES` and
    :data:`SPHERE_METRIC_NAMES`; metrics whose ground truth is missing are NaN."""
    results: dict[str, float] = {}
    for sphere in (False, True):
        suffix = "_sphere" if sphere else ""
        map_metrics: Mapping[str, float] = {}
        if gt is not None:
            map_metrics = {
                "cc": cc(pred, gt, sphere=sphere),
                "sim": sim(pred, gt, sphere=sphere),
                "kld": kld(pred, gt, sphere=sphere),
            }
        fixation_metrics: Mapping[str, float] = {}
        if fixations is not None and len(fixations):
            fixation_metrics = {
                "nss": nss(pred, fixations, sphere=sphere),
                "auc_judd": auc_judd(pred, fixations, sphere=sphere),
                "auc_borji": auc_borji(pred, fixations, sphere=sphere),
            }
        for name in METRIC_NAMES:
            value = map_metrics.get(name, fixation_metrics.get(name, math.nan))
            results[name + suffix] = float(value)
    return results
