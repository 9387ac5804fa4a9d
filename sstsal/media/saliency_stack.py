"""The saliency maps of one video as one file: a float16 stack with the frame names.

Later stages (overlay, summary, evaluation) read one compact file instead of thousands of
PNGs, and keep the model's raw values rather than the per-frame 8-bit rescaling.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence

import numpy as np

from sstsal.atomic import atomic_file
from sstsal.media.naming import parse_frame_name

# The stack's metadata of warm-up maps: member ``warmup``, (N,) bool in the order of ``names``,
# True where the map had less temporal context than the model's warm-up (see
# sstsal.model.predictor.warmup_frames). A stack without it (older, or raw.npz) marks none.
WARMUP_MEMBER = "warmup"


def warmup_flags(names: Sequence[str], warmup: Collection[str]) -> np.ndarray:
    """(N,) bool: which of ``names`` are in ``warmup`` (the ``warmup`` member of a stack)."""
    warmup = set(warmup)
    return np.array([n in warmup for n in names], dtype=bool)


def read_warmup(path: str | os.PathLike) -> set[str]:
    """The names of a stack's warm-up maps (its ``warmup`` member); empty when it has none."""
    with np.load(path, allow_pickle=False) as data:
        if WARMUP_MEMBER not in data.files or "names" not in data.files:
            return set()
        return {str(n) for n, warm in zip(data["names"], data[WARMUP_MEMBER]) if warm}


def save_stack(path: str | os.PathLike, maps: dict[str, np.ndarray], *, warmup: Collection[str] = ()) -> None:
    """Write {frame stem: (240, 320) map} as ``maps`` float16 (N, 240, 320) and ``names`` (N,),
    ordered by frame number, atomically (compressed .npz); ``warmup``: the stems of warm-up maps
    (stored as the ``warmup`` member, see :data:`WARMUP_MEMBER`)."""
    names = sorted(maps, key=lambda stem: parse_frame_name(f"{stem}.png").number)
    stack = np.stack([np.asarray(maps[n], dtype=np.float32) for n in names]).astype(np.float16)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, maps=stack, names=np.array(names), **{WARMUP_MEMBER: warmup_flags(names, warmup)})


def load_stack(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Read a stack: maps float16 (N, H, W) and the frame names (without .png), in file order.

    Also reads ``sstsal predict --save-raw``'s raw.npz (one (240, 320) array per frame stem),
    ordered by frame number, so the by-hand steps can hand it to the director and the viewer.
    """
    with np.load(path, allow_pickle=False) as data:
        if "maps" in data.files and "names" in data.files:
            return data["maps"], [str(n) for n in data["names"]]
        raw = {name: data[name] for name in data.files}
    if not raw or any(m.ndim != 2 for m in raw.values()):
        raise KeyError("neither a saliency stack (maps, names) nor raw.npz (one 2-D map per frame name)")
    names = sorted(raw, key=lambda stem: parse_frame_name(f"{stem}.png").number)
    return np.stack([np.asarray(raw[n], dtype=np.float32) for n in names]).astype(np.float16), names


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
