"""The saliency maps of one video as one file: a float16 stack with the frame names.

Later stages (overlay, summary, evaluation) read one compact file instead of thousands of
PNGs, and keep the model's raw values rather than the per-frame 8-bit rescaling.
"""

from __future__ import annotations

import os

import numpy as np

from sstsal.atomic import atomic_file
from sstsal.media.naming import parse_frame_name


def save_stack(path: str | os.PathLike, maps: dict[str, np.ndarray]) -> None:
    """Write {frame stem: (240, 320) map} as ``maps`` float16 (N, 240, 320) and ``names`` (N,),
    ordered by frame number, atomically (compressed .npz)."""
    names = sorted(maps, key=lambda stem: parse_frame_name(f"{stem}.png").number)
    stack = np.stack([np.asarray(maps[n], dtype=np.float32) for n in names]).astype(np.float16)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, maps=stack, names=np.array(names))


def load_stack(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Read a stack: maps float16 (N, H, W) and the frame names (without .png), in file order."""
    with np.load(path, allow_pickle=False) as data:
        return data["maps"], [str(n) for n in data["names"]]
