"""A tiny synthetic saliency dataset in the published layout: moving blobs and matching gaze.

Each video shows one bright blob drifting horizontally (wrapping around, as on a sphere) over a
dim noisy background; the ground-truth map is a Gaussian at the blob and the flow image
colours the moving blob on white (zero flow is white in the usual colour coding).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _gaussian(height: int, width: int, row: float, col: float, sigma: float) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    d_col = np.minimum(np.abs(cols - col), width - np.abs(cols - col))  # wraps horizontally
    return np.exp(-((rows - row) ** 2 + d_col**2) / (2 * sigma**2))


def write_moving_blobs(
    root: Path,
    videos: int = 5,
    frames: int = 16,
    height: int = 24,
    width: int = 48,
    seed: int = 0,
) -> list[str]:
    """Write ``root/{frames,optical_flow,saliency_maps}/<video>/`` and ``root/train_split.txt``."""
    rng = np.random.default_rng(seed)
    names = [f"{v + 1:03d}" for v in range(videos)]
    for name in names:
        row = rng.uniform(0.3, 0.7) * height
        col = rng.uniform(0, width)
        speed = rng.choice([-1, 1]) * rng.uniform(0.8, 2.0)
        colour = rng.uniform(0.6, 1.0, 3)
        for n in range(frames):
            c = (col + speed * n) % width
            blob = _gaussian(height, width, row, c, 2.5)
            background = 0.15 + 0.05 * rng.random((height, width, 3))
            frame = np.clip(background + blob[..., None] * colour, 0, 1)
            flow = 1 - blob[..., None] * np.array([0.2, 0.9, 0.9] if speed > 0 else [0.9, 0.9, 0.2])
            gt = _gaussian(height, width, row, c, 2.0)
            file = f"{name}_{n:04d}.png"
            for folder, image in (("frames", frame), ("optical_flow", flow)):
                (root / folder / name).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / folder / name / file), np.round(255 * image).astype(np.uint8))
            (root / "saliency_maps" / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "saliency_maps" / name / f"{n:04d}.png"), np.round(255 * gt).astype(np.uint8))
    (root / "train_split.txt").write_text("\n".join(names) + "\n")
    return names
