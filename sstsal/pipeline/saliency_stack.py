"""The saliency maps of one video as one file: a float16 stack with the frame names.

Later stages (overlay, summary, evaluation) read one compact file instead of thousands of
PNGs, and keep the model's raw values rather than the per-frame 8-bit rescaling.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sstsal.media.naming import parse_frame_name
from sstsal.pipeline.atomic import atomic_directory, atomic_file

if TYPE_CHECKING:  # these import torch: only when inference runs
    from sstsal.model.predictor import SaliencyPredictor
    from sstsal.model.settings import InferenceSettings


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


def predict_video(
    frames_dir: str | os.PathLike,
    maps_dir: str | os.PathLike,
    stack_path: str | os.PathLike,
    settings: InferenceSettings | None = None,
    *,
    flow_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    predictor: SaliencyPredictor | None = None,
    **options: Any,
) -> int:
    """Run :func:`sstsal.model.predictor.predict_folder` into ``maps_dir`` (PNG per frame, folder
    appears only when complete) and save the float16 stack at ``stack_path``. Returns the
    number of frames.

    The model is ``predictor``'s (loaded once for several videos), or loaded from ``settings``
    (or its fields as keyword ``options``: checkpoint, no_flow, device, batch_size).
    """
    import torch

    from sstsal.model.predictor import predict_folder

    if threads:
        torch.set_num_threads(threads)
    if predictor is not None and (settings is not None or options):
        raise TypeError("give a predictor or inference settings, not both")
    maps_dir = Path(maps_dir)
    with atomic_directory(maps_dir) as tmp:
        if predictor is not None:
            maps = predictor.predict_folder(frames_dir, tmp, flow_dir=flow_dir, progress=True)
        else:
            maps = predict_folder(frames_dir, tmp, settings, flow_dir=flow_dir, progress=True, **options)
        save_stack(stack_path, maps)
    print(f"{len(maps)} saliency maps in {maps_dir}, stack {stack_path}", file=sys.stderr)
    return len(maps)
