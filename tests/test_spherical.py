"""Spherical sampling positions and the sparse sampling operator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference_model import sampling_grid

from sstsal.model.spherical import tap_positions
from sstsal.model.spherical_ops import spherical_max_pool, spherical_taps


def gnomonic_positions(height: int, width: int, stride: int) -> np.ndarray:
    """Tap positions from 3D geometry, independently of SphereNet's closed form.

    A tangent-plane point (x, y) at the pixel's direction d is the ray d + x * east + y * north;
    its latitude/longitude give the sampled position. Same conventions as SphereNet:
    pixel centres at +0.5, kernel spacing tan(dphi) vertically and tan(dtheta) horizontally with
    the corner rows scaled by 1/cos(dtheta), centre tap at the pixel itself.
    """
    d_phi, d_theta = np.pi / height, 2 * np.pi / width
    tx, ty = np.tan(d_theta), np.tan(d_phi)
    kernel = [
        [(-tx, ty / np.cos(d_theta)), (0, ty), (tx, ty / np.cos(d_theta))],
        [(-tx, 0), (0, 0), (tx, 0)],
        [(-tx, -ty / np.cos(d_theta)), (0, -ty), (tx, -ty / np.cos(d_theta))],
    ]
    out = np.zeros((len(range(0, height, stride)), len(range(0, width, stride)), 3, 3, 2))
    for a, r in enumerate(range(0, height, stride)):
        lat = np.pi / 2 - (r + 0.5) * np.pi / height
        for b, c in enumerate(range(0, width, stride)):
            lon = (c + 0.5) * 2 * np.pi / width - np.pi
            d = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
            east = np.array([-np.sin(lon), np.cos(lon), 0.0])
            north = np.cross(d, east)
            for ky in range(3):
                for kx in range(3):
                    if (ky, kx) == (1, 1):
                        out[a, b, 1, 1] = (r, c)
                        continue
                    x, y = kernel[ky][kx]
                    ray = d + x * east + y * north
                    ray /= np.linalg.norm(ray)
                    t_lat = np.arcsin(ray[2])
                    t_lon = np.arctan2(ray[1], ray[0])
                    row = (np.pi / 2 - t_lat) * height / np.pi - 0.5
                    col = ((t_lon + np.pi) * width / (2 * np.pi) - 0.5) % width
                    out[a, b, ky, kx] = (row, col)
    return out


@pytest.mark.parametrize("height,width,stride", [(12, 24, 1), (16, 20, 2), (240, 320, 2)])
def test_tap_positions_match_gnomonic_projection(height, width, stride):
    ours = tap_positions(height, width, stride)
    geometric = gnomonic_positions(height, width, stride)
    # SphereNet uses arctan instead of arctan2 for the longitude offset, which differs only
    # where the tangent-plane point lies beyond the pole (first/last two rows).
    rows = slice(2, -2) if height // stride > 4 else slice(None)
    d_col = np.abs(ours[rows, ..., 1] - geometric[rows, ..., 1])
    d_col = np.minimum(d_col, width - d_col)  # the seam
    assert np.abs(ours[rows, ..., 0] - geometric[rows, ..., 0]).max() < 1e-9
    assert d_col.max() < 1e-9


def test_tap_positions_shape_and_conventions():
    pos = tap_positions(8, 16, 2)
    assert pos.shape == (4, 8, 3, 3, 2)
    assert np.array_equal(pos[:, :, 1, 1, 0], np.repeat(np.arange(0, 8, 2)[:, None], 8, 1))
    assert (pos[..., 1] >= 0).all() and (pos[..., 1] < 16).all()
    # the top row of the kernel lies above the centre (away from the pole row)
    assert (pos[1:, :, 0, 1, 0] < pos[1:, :, 1, 1, 0]).all()


@pytest.mark.parametrize("height,width,stride,channels", [(12, 24, 1, 3), (24, 32, 1, 5), (24, 32, 2, 4), (10, 14, 2, 1)])
def test_sparse_sampling_equals_grid_sample(height, width, stride, channels):
    torch.manual_seed(0)
    x = torch.randn(2, channels, height, width)
    grid = sampling_grid(height, width, stride).expand(2, -1, -1, -1)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    h_out, w_out = expected.shape[2] // 3, expected.shape[3] // 3

    feats = x.permute(0, 2, 3, 1).reshape(2, height * width, channels)
    taps = spherical_taps(feats, height, width, stride)  # (B, P, 9 * C)
    assert taps.shape == (2, h_out * w_out, 9 * channels)
    ours = taps.view(2, h_out, w_out, 3, 3, channels).permute(0, 5, 1, 3, 2, 4).reshape(expected.shape)
    assert torch.allclose(ours, expected, atol=2e-5)


def test_max_pool_equals_grid_sample_then_max_pool():
    torch.manual_seed(1)
    x = torch.randn(1, 4, 16, 24)
    expected = F.max_pool2d(
        F.grid_sample(x, sampling_grid(16, 24, 2), align_corners=False), kernel_size=3, stride=3
    )
    ours = spherical_max_pool(x.permute(0, 2, 3, 1).reshape(1, 16 * 24, 4), 16, 24, stride=2)
    assert torch.allclose(ours.view(1, 8, 12, 4).permute(0, 3, 1, 2), expected, atol=2e-5)


def test_sampling_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(B, 384, C\)"):
        spherical_taps(torch.zeros(1, 100, 3), 16, 24)


def test_sampling_gradient_is_the_transpose():
    torch.manual_seed(2)
    x = torch.randn(2, 12 * 16, 3, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(2, 12 * 16, 27)
    (spherical_taps(x, 12, 16) * weights).sum().backward()
    x_ref = x.detach().permute(0, 2, 1).reshape(2, 3, 12, 16).clone().requires_grad_(True)
    taps_ref = F.grid_sample(x_ref, sampling_grid(12, 16).expand(2, -1, -1, -1), align_corners=False)
    w_ref = weights.view(2, 12, 16, 3, 3, 3).permute(0, 5, 1, 3, 2, 4).reshape(taps_ref.shape)
    (taps_ref * w_ref).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad.reshape(2, 3, -1).permute(0, 2, 1), atol=1e-4)


def test_torch_sparse_path_equals_scipy_path():
    # CUDA (and non-float32 dtypes) use torch's sparse CSR product instead of SciPy's.
    torch.manual_seed(3)
    x = torch.randn(2, 12 * 16, 5)
    via_scipy = spherical_taps(x, 12, 16)
    via_torch = spherical_taps(x.double(), 12, 16)
    assert via_torch.dtype == torch.float64
    assert torch.allclose(via_scipy.double(), via_torch, atol=1e-6)
