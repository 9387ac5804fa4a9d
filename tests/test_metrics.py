"""Saliency metrics: reference values, sphere-awareness, conventions and errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sstsal.errors import InputError
from sstsal.evaluation import metrics

REFERENCE = Path(__file__).parent / "data" / "pysaliency_reference.npz"
H, W = 120, 240


# --- equirectangular scenes defined on the sphere ---------------------------------------------


def _pixel_directions(height: int, width: int) -> np.ndarray:
    """Unit vectors of the pixel centres, ``(H, W, 3)`` (x: lon 0, z: north)."""
    lat = np.pi / 2 - (np.arange(height) + 0.5) * np.pi / height
    lon = -np.pi + (np.arange(width) + 0.5) * 2 * np.pi / width
    lat_grid, lon_grid = np.meshgrid(lat, lon, indexing="ij")
    return np.stack(
        [np.cos(lat_grid) * np.cos(lon_grid), np.cos(lat_grid) * np.sin(lon_grid), np.sin(lat_grid)], axis=-1
    )


def _rotation_about_y(degrees: float) -> np.ndarray:
    """Rotation about the horizontal y axis: moves the equator point (1, 0, 0) to latitude ``degrees``."""
    a = math.radians(degrees)
    return np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])


def _scene(rotation: np.ndarray, sigma: float, background: float = 0.0):
    """A prediction (two blobs), a ground truth (one blob) and 40 fixations near the ground truth,
    all defined by geodesic distances in a scene frame that ``rotation`` places on the sphere."""
    directions = _pixel_directions(H, W) @ rotation  # pixel directions in scene coordinates

    def blob(centre, width):
        c = np.asarray(centre, dtype=float)
        c /= np.linalg.norm(c)
        d = np.arccos(np.clip(directions @ c, -1, 1))
        return np.exp(-(d**2) / (2 * width**2))

    gt_centre = np.array([math.cos(sigma), math.sin(sigma), 0.5 * sigma])
    pred = blob([1, 0, 0], sigma) + 0.6 * blob([math.cos(3 * sigma), math.sin(3 * sigma), 0], sigma) + background
    gt = blob(gt_centre, 0.7 * sigma)
    rng = np.random.default_rng(0)
    gaze = gt_centre + rng.normal(0, sigma / 2, (40, 3))
    gaze = (gaze / np.linalg.norm(gaze, axis=1, keepdims=True)) @ rotation.T
    pitch = np.degrees(np.arcsin(gaze[:, 2]))
    yaw = np.degrees(np.arctan2(gaze[:, 1], gaze[:, 0]))
    return pred, gt, metrics.fixations_to_pixels(yaw, pitch, H, W)


# --- the planar forms against pysaliency -------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


@pytest.mark.parametrize("case", range(4))
def test_planar_metrics_match_pysaliency(reference, case):
    # Values computed by pysaliency 0.2.22 (tests/data/make_pysaliency_reference.py), not by us.
    pred, gt, fix = reference[f"pred_{case}"], reference[f"gt_{case}"], reference[f"fixations_{case}"]
    assert metrics.cc(pred, gt) == pytest.approx(float(reference[f"cc_{case}"]), abs=1e-12)
    assert metrics.sim(pred, gt) == pytest.approx(float(reference[f"sim_{case}"]), abs=1e-12)
    assert metrics.kld(pred, gt) == pytest.approx(float(reference[f"kld_{case}"]), abs=1e-12)
    assert metrics.nss(pred, fix) == pytest.approx(float(reference[f"nss_{case}"]), abs=1e-12)
    assert metrics.auc_judd(pred, fix) == pytest.approx(float(reference[f"auc_judd_{case}"]), abs=1e-12)


def test_auc_borji_matches_pysaliency_exact_roc_on_quantised_map(reference):
    # Case 3 has one distinct value per 0.1-wide threshold bin: the stepped Borji curve with
    # nonfixations over all pixels is then exactly pysaliency's ROC with uniform nonfixations.
    pred, fix = reference["pred_3"], reference["fixations_3"]
    assert metrics.auc_borji(pred, fix) == pytest.approx(float(reference["auc_uniform_3"]), abs=1e-12)


def test_auc_borji_uses_a_coarse_threshold_grid(reference):
    # On continuous maps the 0.1 threshold grid gives another area than the exact ROC: the
    # grid really is in use.
    pred, fix = reference["pred_0"], reference["fixations_0"]
    assert abs(metrics.auc_borji(pred, fix) - float(reference["auc_uniform_0"])) > 1e-3
    assert metrics.auc_borji(pred, fix, step=1e-6) == pytest.approx(float(reference["auc_uniform_0"]), abs=1e-9)


@pytest.mark.parametrize("sphere", [False, True])
def test_auc_borji_random_splits_converge_to_exact_expectation(sphere):
    pred, _, fix = _scene(np.eye(3), sigma=0.3, background=0.05)
    exact = metrics.auc_borji(pred, fix, sphere=sphere)
    sampled = metrics.auc_borji(pred, fix, sphere=sphere, n_splits=400, rng=np.random.default_rng(1))
    assert sampled == pytest.approx(exact, abs=0.01)
    again = metrics.auc_borji(pred, fix, sphere=sphere, n_splits=400, rng=np.random.default_rng(1))
    assert again == sampled


# --- sphere-awareness --------------------------------------------------------------------------


def test_sphere_metrics_are_invariant_to_horizontal_roll():
    rng = np.random.default_rng(3)
    pred = rng.random((H // 8, W // 8)).repeat(8, 0).repeat(8, 1) ** 2
    gt = rng.random((H // 8, W // 8)).repeat(8, 0).repeat(8, 1) ** 4
    fix = np.stack([rng.integers(0, H, 30), rng.integers(0, W, 30)], axis=1)
    base = metrics.evaluate_frame(pred, gt, fix)
    for shift in (1, 37, W // 2):
        rolled_fix = fix.copy()
        rolled_fix[:, 1] = (rolled_fix[:, 1] + shift) % W
        rolled = metrics.evaluate_frame(np.roll(pred, shift, axis=1), np.roll(gt, shift, axis=1), rolled_fix)
        for name in metrics.SPHERE_METRIC_NAMES:
            assert rolled[name] == pytest.approx(base[name], abs=1e-12), name


def test_sphere_metrics_are_invariant_to_moving_the_scene_towards_a_pole():
    # The same scene at the equator and rotated to 60 degrees latitude: the equirectangular
    # images differ a lot, the sphere-aware metrics barely (fixations snap to pixels), the
    # planar ones clearly change.
    at_equator = metrics.evaluate_frame(*_scene(np.eye(3), sigma=0.25, background=0.02))
    near_pole = metrics.evaluate_frame(*_scene(_rotation_about_y(60).T, sigma=0.25, background=0.02))
    tolerance = {"cc": 1e-3, "sim": 1e-3, "kld": 1e-3, "nss": 0.03, "auc_judd": 2e-3, "auc_borji": 1e-3}
    for name in metrics.METRIC_NAMES:
        sphere_change = abs(near_pole[name + "_sphere"] - at_equator[name + "_sphere"])
        planar_change = abs(near_pole[name] - at_equator[name])
        assert sphere_change < tolerance[name], name
        assert planar_change > 3 * sphere_change, name


def test_sphere_metrics_match_planar_for_maps_concentrated_at_the_equator():
    planar_and_sphere = metrics.evaluate_frame(*_scene(np.eye(3), sigma=0.05))
    tolerance = {"cc": 2e-3, "sim": 2e-3, "kld": 2e-3, "auc_judd": 2e-3, "auc_borji": 2e-3}
    for name, tol in tolerance.items():
        assert planar_and_sphere[name + "_sphere"] == pytest.approx(planar_and_sphere[name], abs=tol), name
    # NSS standardises over the whole sphere, which the image over-counts near the poles by pi/2
    # on average: for equatorial maps the sphere-aware value is sqrt(2/pi) of the planar one.
    ratio = planar_and_sphere["nss_sphere"] / planar_and_sphere["nss"]
    assert ratio == pytest.approx(math.sqrt(2 / math.pi), abs=5e-3)


def test_solid_angle_weights_are_proportional_to_exact_and_published_weights():
    height, width = 12, 24
    weights = metrics.solid_angle_weights(height, width)
    assert weights.shape == (height, width)
    assert weights.sum() == pytest.approx(1.0)
    theta = np.linspace(0, np.pi, height + 1)
    exact = (np.cos(theta[:-1]) - np.cos(theta[1:])) / (2 * width)  # solid angle / (4 pi)
    np.testing.assert_allclose(weights[:, 0], exact, rtol=1e-12)
    published = (np.sin(theta[:-1]) + np.sin(theta[1:])) / 2  # the published loss, up to scale
    np.testing.assert_allclose(weights[:, 0] / weights[:, 0].sum(), published / published.sum(), rtol=1e-12)


# --- conventions -------------------------------------------------------------------------------


@pytest.mark.parametrize("sphere", [False, True])
def test_identical_maps_score_perfectly(sphere):
    pred, _, _ = _scene(np.eye(3), sigma=0.3)
    assert metrics.cc(pred, pred, sphere=sphere) == pytest.approx(1.0)
    assert metrics.sim(pred, pred, sphere=sphere) == pytest.approx(1.0)
    assert metrics.kld(pred, pred, sphere=sphere) == pytest.approx(0.0, abs=1e-9)


def test_kld_takes_the_ground_truth_as_reference():
    pred, gt, _ = _scene(np.eye(3), sigma=0.2, background=0.01)
    forward = metrics.kld(pred, gt)
    g = gt / gt.sum()
    p = pred / pred.sum()
    assert forward == pytest.approx(float((g * np.log(metrics.KLD_EPS + g / (p + metrics.KLD_EPS))).sum()))
    assert forward != pytest.approx(metrics.kld(gt, pred))


@pytest.mark.parametrize("sphere", [False, True])
def test_constant_prediction_conventions(sphere):
    _, gt, fix = _scene(np.eye(3), sigma=0.3)
    flat = np.full_like(gt, 0.5)
    assert metrics.cc(flat, gt, sphere=sphere) == 0.0
    assert math.isnan(metrics.cc(gt, flat, sphere=sphere))
    assert metrics.nss(flat, fix, sphere=sphere) == 0.0
    assert metrics.auc_judd(flat, fix, sphere=sphere) == pytest.approx(0.5)
    assert metrics.auc_borji(flat, fix, sphere=sphere) == pytest.approx(0.5)


def test_fixations_to_pixels_conventions():
    pixels = metrics.fixations_to_pixels(
        np.array([0.0, -180.0, 179.99, 180.0, 0.0]), np.array([0.0, 90.0, -90.0, 0.0, 45.0]), 60, 120
    )
    np.testing.assert_array_equal(pixels, [[30, 60], [0, 0], [59, 119], [30, 0], [15, 60]])


def test_evaluate_frame_leaves_missing_ground_truth_as_nan():
    pred, gt, fix = _scene(np.eye(3), sigma=0.3)
    only_map = metrics.evaluate_frame(pred, gt=gt)
    only_fix = metrics.evaluate_frame(pred, fixations=fix)
    assert set(only_map) == set(metrics.METRIC_NAMES + metrics.SPHERE_METRIC_NAMES)
    for name in only_map:
        is_fixation_metric = name.removesuffix("_sphere") in metrics.FIXATION_METRICS
        assert math.isnan(only_map[name]) == is_fixation_metric, name
        assert math.isnan(only_fix[name]) != is_fixation_metric, name


def test_bad_inputs_raise_input_errors():
    pred = np.ones((4, 8))
    with pytest.raises(InputError, match="differ in size"):
        metrics.cc(pred, np.ones((4, 6)))
    with pytest.raises(InputError, match="NaN"):
        metrics.sim(np.full((4, 8), np.nan), pred)
    with pytest.raises(InputError, match="2-D"):
        metrics.kld(np.ones((1, 4, 8)), np.ones((1, 4, 8)))
    with pytest.raises(InputError, match="outside"):
        metrics.nss(pred, np.array([[4, 0]]))
    with pytest.raises(InputError, match="integer"):
        metrics.auc_judd(pred, np.array([[1.5, 2.0]]))
    with pytest.raises(InputError, match="pitch"):
        metrics.fixations_to_pixels(np.array([0.0]), np.array([91.0]), 4, 8)
