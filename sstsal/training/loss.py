"""The published training loss: spherical KL divergence of the ground truth to the prediction."""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from sstsal.evaluation.metrics import solid_angle_weights

KL_EPS = 1e-8  # the published loss's epsilon


@lru_cache(maxsize=8)
def _loss_weights(height: int, width: int) -> torch.Tensor:
    """The published per-pixel weights ``dphi * dtheta * (sin theta_top + sin theta_bottom) / 2``.

    They are the metrics' solid-angle weights (one definition of the sphere's pixel areas) times
    their published total: the trapezoid rule in latitude sums them to ``2 pi dtheta cot(dtheta / 2)``
    (4 pi as H grows), which keeps the loss's scale, and so the published learning rate, unchanged.
    """
    dtheta = math.pi / height
    total = 2 * math.pi * dtheta / math.tan(dtheta / 2)
    return torch.from_numpy((solid_angle_weights(height, width) * total).astype("float32"))


def spherical_kl_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The published spherical KL loss per frame: ``(B, T, H, W)`` x2 -> ``(B, T)``.

    ``KL(gt || pred)`` after min-max and sum normalisation, each pixel weighted by its solid angle.
    """
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two (B, T, H, W) tensors of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    batch, steps, height, width = pred.shape
    p = pred.float().reshape(batch, steps, -1)
    g = gt.float().reshape(batch, steps, -1)
    p = (p - p.amin(-1, keepdim=True)) / (p.amax(-1, keepdim=True) - p.amin(-1, keepdim=True) + KL_EPS)
    g = (g - g.amin(-1, keepdim=True)) / (g.amax(-1, keepdim=True) - g.amin(-1, keepdim=True) + KL_EPS)
    p = p / (p.sum(-1, keepdim=True) + KL_EPS)
    g = g / (g.sum(-1, keepdim=True) + KL_EPS)
    weights = _loss_weights(height, width).to(pred.device).reshape(1, 1, -1)
    return (weights * g * torch.log(g / (p + KL_EPS) + KL_EPS)).sum(-1)
