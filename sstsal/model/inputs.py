"""Reading frames and flow images exactly as the published SST-Sal loader does."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from sstsal.errors import InputError
from sstsal.frame_size import MODEL_HEIGHT, MODEL_WIDTH

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from a PNG header, without decoding; InputError if not a PNG."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise InputError(f"{path} is not a PNG image (or is empty/truncated): re-extract it")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def check_same_size(paths: list[Path]) -> tuple[int, int]:
    """All images have one size; returns it as (width, height) or names the odd ones out."""
    sizes = {p: png_size(p) for p in paths}
    first = sizes[paths[0]]
    odd = [p for p in paths if sizes[p] != first]
    if odd:
        shown = ", ".join(f"{p.name} ({sizes[p][0]}x{sizes[p][1]})" for p in odd[:5])
        raise InputError(
            f"images of different sizes: {paths[0].name} is {first[0]}x{first[1]} but {shown}; "
            "all frames (and all flow images) of a video must have one size"
        )
    return first


def read_model_image(path: str | Path) -> np.ndarray:
    """float32 ``(240, 320, 3)`` in B, G, R order and [0, 1], as the published loader computes.

    ``cv2.imread``; ``cv2.resize(..., (320, 240), INTER_AREA)`` unless already that size; /255.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode {path}: the file is unreadable, truncated or not an image; re-create it")
    if image.shape[:2] != (MODEL_HEIGHT, MODEL_WIDTH):
        image = cv2.resize(image, (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_AREA)
    return image.astype(np.float32) / 255.0
