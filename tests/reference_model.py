"""The straightforward formulation of SST-Sal: ``grid_sample`` then a stride-3 convolution.

This is how the published code computes each spherical convolution and pooling, one
window at a time. It is the yardstick for :mod:`sstsal.model.network` in tests (same outputs) and in
``benchmarks/bench_inference.py`` (speed ratio); it is not used for predictions.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from sstsal.model.network import SSTSal
from sstsal.model.spherical import tap_positions


@functools.lru_cache(maxsize=8)
def sampling_grid(height: int, width: int, stride: int = 1) -> torch.Tensor:
    """``grid_sample`` grid ``(1, 3 * H_out, 3 * W_out, 2)``: the taps of each output pixel as a 3x3 block."""
    pos = tap_positions(height, width, stride)  # (H_out, W_out, 3, 3, [row, col])
    norm = np.stack([pos[..., 1] * 2 / width - 1, pos[..., 0] * 2 / height - 1], axis=-1)  # x, y
    h_out, w_out = pos.shape[:2]
    grid = norm.transpose(0, 2, 1, 3, 4).reshape(1, 3 * h_out, 3 * w_out, 2)
    return torch.from_numpy(grid.astype(np.float32))


def _sample(x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    # .repeat as the published SphereNet layers do on every call
    grid = sampling_grid(x.shape[2], x.shape[3], stride).to(x.device).repeat(x.shape[0], 1, 1, 1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def sphere_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.conv2d(_sample(x), weight, bias, stride=3)


def sphere_max_pool(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    return F.max_pool2d(_sample(x, stride), kernel_size=3, stride=3)


def _lstm(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    gates = sphere_conv(torch.cat([x, h], dim=1), weight, bias)
    i, f, o, g = torch.split(gates, h.shape[1], dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def reference_forward(model: SSTSal, x: torch.Tensor) -> torch.Tensor:
    """``(B, T, C, H, W)`` -> ``(B, T, 1, H, W)`` with the weights of ``model``."""
    b, steps, _, height, width = x.shape
    hid = model.hidden_channels
    h = c = x.new_zeros(b, hid, height, width)
    hd = cd = x.new_zeros(b, 1, height // 2, width // 2)
    outputs = []
    for t in range(steps):
        h, c = _lstm(x[:, t], h, c, model.encoder.weight, model.encoder.bias)
        hd, cd = _lstm(sphere_max_pool(h), hd, cd, model.decoder.weight, model.decoder.bias)
        outputs.append(F.interpolate(hd, scale_factor=2, mode="nearest"))
    return torch.stack(outputs, dim=1)
