"""The evaluation's baselines: maps, fitted widths."""

from __future__ import annotations

import numpy as np
import pytest

from sstsal.errors import InputError
from sstsal.evaluation.baselines import BaselineSettings, centre_map, equator_map, fit_widths, fit_widths_from_maps
from sstsal.gaze.sphere import angular_distance, to_vectors


def test_equator_and_centre_maps():
    band = equator_map(90, 180, 10.0)
    pitch = 90 - (np.arange(90) + 0.5) * 2
    np.testing.assert_allclose(band[:, 7], np.exp(-(pitch**2) / 200))
    assert np.ptp(band, axis=1).max() == 0  # the same along every row
    centre = centre_map(90, 180, 10.0)
    assert np.unravel_index(np.argmax(centre), centre.shape) in {(44, 89), (44, 90), (45, 89), (45, 90)}
    # pixel (44, 95) is at yaw 11, pitch 1: 11.04 degrees from the centre on the sphere; the back: nothing
    distance = np.degrees(angular_distance(to_vectors(11.0, 1.0), to_vectors(0.0, 0.0)))
    assert centre[44, 95] == pytest.approx(np.exp(-(distance**2) / 200), rel=1e-9)
    assert centre[:, 0].max() < 1e-12


def test_widths_fitted_on_fixations_and_on_maps_agree():
    rng = np.random.default_rng(0)
    pitch = rng.normal(0, 12.0, 4000)
    yaw = rng.normal(0, 12.0, 4000)
    equator, centre = fit_widths(yaw, pitch)
    assert equator == pytest.approx(12.0, rel=0.05)
    assert centre == pytest.approx(12.0, rel=0.08)  # near the centre, yaw and pitch are the two axes of a 2-D Gaussian
    from_maps, _ = fit_widths_from_maps([equator_map(180, 360, 12.0)])
    assert from_maps == pytest.approx(12.0, rel=0.05)
    with pytest.raises(InputError, match="no fixations"):
        fit_widths(np.array([]), np.array([]))


def test_baseline_settings_are_checked():
    BaselineSettings(equator_sigma_deg=None, centre_sigma_deg=30.0).check()
    with pytest.raises(InputError, match="equator baseline's sigma"):
        BaselineSettings(equator_sigma_deg=-1.0).check()
