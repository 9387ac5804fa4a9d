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


def unseen_masked(maps: dict[str, np.ndarray], seen: np.ndarray | None) -> dict[str, np.ndarray]:
    """The maps with every direction outside ``seen`` (H, W) bool set to the frame's lowest seen
    value: after per-frame normalisation it is 0 there, so no later stage points at it."""
    if seen is None:
        return maps
    return {name: np.where(seen, m, np.asarray(m)[seen].min()).astype(np.float32) for name, m in maps.items()}


def seen_directions(info_path: str | os.PathLike | None, size: tuple[int, int] = (320, 240)) -> np.ndarray | None:
    """(H, W) bool of the directions a half-sphere video (VR180) covers, at the maps' ``size``
    (w, h), from its probe record; None for a full-sphere video or without a record."""
    from sstsal.media.projection import seen_mask
    from sstsal.media.video import VideoInfo

    if not info_path:
        return None
    return seen_mask(VideoInfo.from_json(info_path).layout, size)


def write_map_pngs(folder: str | os.PathLike, maps: dict[str, np.ndarray]) -> None:
    """Each map as ``folder/<name>.png``, normalised as the predictor writes them."""
    import torch

    from sstsal.model.predictor import normalise_map
    from sstsal.pipeline.atomic import write_png

    for name, m in maps.items():
        write_png(Path(folder) / f"{name}.png", normalise_map(torch.from_numpy(np.asarray(m, dtype=np.float32))))


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
    seen: np.ndarray | None = None,
    **options: Any,
) -> int:
    """Run :func:`sstsal.model.predictor.predict_folder` into ``maps_dir`` (PNG per frame, folder
    appears only when complete) and save the float16 stack at ``stack_path``. Returns the
    number of frames.

    The model is ``predictor``'s (loaded once for several videos), or loaded from ``settings``
    (or its fields as keyword ``options``: checkpoint, no_flow, device, batch_size).
    seen: for a half-sphere video, the directions it covers (see :func:`seen_directions`); the
    maps (PNGs and stack) are zero elsewhere.
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
        if seen is not None:
            maps = unseen_masked(maps, seen)
            write_map_pngs(tmp, maps)
        save_stack(stack_path, maps)
    print(f"{len(maps)} saliency maps in {maps_dir}, stack {stack_path}", file=sys.stderr)
    return len(maps)
