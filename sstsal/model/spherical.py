"""Spherical 3x3 sampling on equirectangular images (SphereNet, Coors et al., ECCV 2018).

For every output pixel the 9 taps of a 3x3 kernel are the gnomonic projection of a 3x3
tangent-plane kernel placed at that pixel's latitude and longitude. The published SST-Sal
weights were trained with the unofficial PyTorch SphereNet, whose conventions we reproduce
exactly, because the weights only give the published maps with the very same positions:

* pixel (r, c) sits at latitude ``-((r + 0.5) / H * pi - pi / 2)`` and longitude
  ``(c + 0.5) / W * 2 pi - pi``; the tap spacing is one pixel of the *full* grid
  (``pi / H`` and ``2 pi / W``), also for the strided pooling;
* the longitude offset uses ``arctan`` (not ``arctan2``), as that implementation does;
* the tapped position is mapped back to a fractional pixel index, the column wrapped modulo
  W, and the centre tap is the pixel itself;
* the index is normalised as ``index * 2 / size - 1`` and sampled by ``grid_sample`` with
  ``align_corners=False``: that reads at ``index - 0.5`` pixels, i.e. half a pixel up and
  left of the tap (bilinear, zeros outside the image). We keep that shift: it is part of
  what the weights learned.

Instead of ``grid_sample`` on a 3x-upsampled grid followed by a stride-3 convolution, the
sampling is a fixed sparse matrix (at most 4 bilinear weights per tap) built once per
resolution (:func:`bilinear_taps`); :mod:`sstsal.model.spherical_ops` applies it.
"""

from __future__ import annotations

import numpy as np


def tap_positions(height: int, width: int, stride: int = 1) -> np.ndarray:
    """Fractional pixel indices (row, column) of the 9 taps of each output pixel.

    Returns float64 ``(H_out, W_out, 3, 3, 2)`` with ``H_out = ceil(H / stride)``: tap
    ``[i, j, ky, kx]`` of output pixel ``(i, j)`` (input pixel ``(i * stride, j * stride)``),
    ``ky = 0`` being the tap above. Columns are wrapped into ``[0, W)``.
    """
    rows = np.arange(0, height, stride, dtype=np.float64)
    cols = np.arange(0, width, stride, dtype=np.float64)
    phi = -((rows + 0.5) / height * np.pi - np.pi / 2)  # latitude, (H_out,)
    theta = (cols + 0.5) / width * 2 * np.pi - np.pi  # longitude, (W_out,)

    d_phi = np.pi / height
    d_theta = 2 * np.pi / width
    # Tangent-plane offsets of the 3x3 kernel, as SphereNet defines them (y up).
    tx, ty = np.tan(d_theta), np.tan(d_phi) / np.cos(d_theta)
    x = np.array([[-tx, 0.0, tx]] * 3)
    y = np.array([[ty, np.tan(d_phi), ty], [0.0, 0.0, 0.0], [-ty, -np.tan(d_phi), -ty]])
    x[1, 1], y[1, 1] = 1.0, 1.0  # placeholder; the centre tap is the pixel itself (below)
    rho = np.sqrt(x**2 + y**2)
    v = np.arctan(rho)

    p = phi[:, None, None]  # (H_out, 1, 1) against the (3, 3) kernel
    new_phi = np.arcsin(np.cos(v) * np.sin(p) + y * np.sin(v) * np.cos(p) / rho)  # (H_out, 3, 3)
    d_lon = np.arctan(x * np.sin(v) / (rho * np.cos(p) * np.cos(v) - y * np.sin(p) * np.sin(v)))
    new_r = (-new_phi + np.pi / 2) * height / np.pi - 0.5  # (H_out, 3, 3)
    new_theta = theta[None, :, None, None] + d_lon[:, None]  # (H_out, W_out, 3, 3)
    new_c = (new_theta + np.pi) * width / 2 / np.pi - 0.5
    new_c = (new_c + width) % width

    out = np.empty((len(rows), len(cols), 3, 3, 2))
    out[..., 0] = new_r[:, None]
    out[..., 1] = new_c
    out[:, :, 1, 1, 0] = rows[:, None]
    out[:, :, 1, 1, 1] = cols[None, :]
    return out


def bilinear_taps(height: int, width: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sampling as (row, col, weight) triplets of a sparse matrix.

    Row ``(p * 9 + k)`` is tap ``k`` (row-major over the 3x3 kernel) of output pixel ``p``
    (row-major over ``H_out x W_out``); column ``y * W + x`` is input pixel ``(y, x)``.
    Positions are rounded to float32 in normalised grid units as SphereNet feeds them to
    ``grid_sample``, then unnormalised with align_corners=False.
    """
    pos = tap_positions(height, width, stride)
    h_out, w_out = pos.shape[:2]
    # float32 throughout, in grid_sample's order of operations, so the weights match it bit
    # for bit rather than only to ~1e-5.
    f32 = np.float32
    grid_r = (pos[..., 0] * 2 / height - 1).astype(f32)
    grid_c = (pos[..., 1] * 2 / width - 1).astype(f32)
    iy = ((grid_r + f32(1)) * f32(height) - f32(1)) / f32(2)
    ix = ((grid_c + f32(1)) * f32(width) - f32(1)) / f32(2)

    y0 = np.floor(iy)
    x0 = np.floor(ix)
    wy1, wx1 = iy - y0, ix - x0
    wy0, wx0 = (y0 + f32(1)) - iy, (x0 + f32(1)) - ix
    out_rows = np.arange(h_out * w_out * 9).reshape(h_out, w_out, 3, 3)
    rows, cols, vals = [], [], []
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)  # zero padding outside
            rows.append(out_rows[inside])
            cols.append((yy * width + xx)[inside].astype(np.int64))
            vals.append((wy * wx)[inside])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
