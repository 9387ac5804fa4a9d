"""Chunks of one video's frames, so that flow and inference spread over several (GPU) jobs.

A 10-minute video is 4800 sampled frames; on a cluster one job for all of them wastes the
other GPUs. With ``chunk_frames`` set, the workflow plans index ranges ``[start, stop)`` of
the sorted frame list, runs the flow and inference engines on each range as its own job, and
gathers the chunks into exactly the folders (and float16 stack) an unchunked run writes.

Chunk boundaries change no value because the engines take the neighbours they need from
outside the range: :func:`sstsal.flow.engines.compute_flow_folder` computes the pair that straddles
the end of a range from the next frame, and :func:`sstsal.model.predictor.predict_folder` warms
each window up on the frames before it. The gather steps only move files and re-pack arrays.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sstsal.atomic import atomic_directory, remove_stale_temporaries, write_text
from sstsal.errors import InputError, SstsalError
from sstsal.media.naming import list_frames

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # these import torch: only when a chunk job runs
    from sstsal.flow.settings import FlowSettings
    from sstsal.model.predictor import SaliencyPredictor
    from sstsal.model.settings import InferenceSettings

CHUNK_LABEL = re.compile(r"^(?P<start>\d+)-(?P<stop>\d+)$")

# Inside a flow chunk's folder: the flow images (as compute_flow_folder writes them, with
# flow.npz when raw flow is kept) and, optionally, the raw flow as one .npy per frame.
FLOW_IMAGES = "flow"
FLOW_RAW = "raw"
# Inside an inference chunk's folder: the PNGs (maps/) and the chunk's float16 stack.
CHUNK_STACK = "saliency.npz"


def plan_chunks(num_frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """Consecutive index ranges ``[start, stop)`` of at most ``chunk_frames`` frames covering
    ``range(num_frames)``; one range when ``chunk_frames`` is 0 (no chunking)."""
    if num_frames < 1:
        raise InputError(f"cannot plan chunks of a video with {num_frames} frames")
    if chunk_frames < 0:
        raise InputError(f"chunk_frames must be 0 (no chunks) or a positive number of frames, got {chunk_frames}")
    size = chunk_frames or num_frames
    return [(start, min(start + size, num_frames)) for start in range(0, num_frames, size)]


def chunk_label(frame_range: tuple[int, int]) -> str:
    """A chunk's folder name, ``<start>-<stop>`` zero-padded so folders sort in frame order."""
    start, stop = frame_range
    return f"{start:06d}-{stop:06d}"


def parse_chunk_label(label: str) -> tuple[int, int]:
    """``"000120-000240"`` -> ``(120, 240)``."""
    match = CHUNK_LABEL.match(label)
    if match is None or int(match["start"]) >= int(match["stop"]):
        raise InputError(f"{label!r} is not a chunk label <start>-<stop> with start < stop")
    return int(match["start"]), int(match["stop"])


def write_plan(frames_dir: str | os.PathLike, plan_path: str | os.PathLike, chunk_frames: int) -> list[str]:
    """Count the frames of ``frames_dir``, write the chunk plan as JSON, return the chunk labels.

    The file holds ``{"frames": N, "chunk_frames": C, "chunks": [label, ...]}``.
    """
    frames = list_frames(frames_dir)
    labels = [chunk_label(r) for r in plan_chunks(len(frames), chunk_frames)]
    plan = {"frames": len(frames), "chunk_frames": chunk_frames, "chunks": labels}
    write_text(plan_path, json.dumps(plan, indent=1) + "\n")
    logger.info("%d frames in %s: %d chunk(s) of at most %d", len(frames), frames_dir, len(labels), chunk_frames)
    return labels


def read_plan(plan_path: str | os.PathLike) -> list[str]:
    """The chunk labels of a plan written by :func:`write_plan`."""
    with open(plan_path, encoding="utf-8") as handle:
        labels = json.load(handle)["chunks"]
    for label in labels:
        parse_chunk_label(label)
    return labels


def _check_coverage(names: Sequence[str], frames_dir: str | os.PathLike, what: str) -> None:
    """The gathered file names must be exactly the frames' names: no frame lost, none twice."""
    expected = [f.filename for f in list_frames(frames_dir)]
    if sorted(names) != sorted(expected):  # compare as sets with multiplicity: frame order is numeric, not textual
        missing = sorted(set(expected) - set(names))
        extra = sorted(set(names) - set(expected))
        twice = sorted(n for n, count in Counter(names).items() if count > 1)
        raise SstsalError(
            f"the {what} chunks do not add up to the frames of {frames_dir}: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, in several chunks {twice[:5]} "
            "(delete the chunk folders and run again)"
        )


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link (no copy of the data; the chunk folders are temporary), else copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _frame_key(path: Path) -> tuple[int, str]:
    """Frame files in frame order (``v_9999`` before ``v_10000``), other files by name."""
    match = re.search(r"_(\d+)\.[a-z]+$", path.name)
    return (int(match[1]) if match else -1, path.name)


def _chunk_files(chunk_dirs: Sequence[str | os.PathLike], subdir: str | None, skip: set[str]) -> list[Path]:
    files: list[Path] = []
    for chunk in chunk_dirs:
        folder = Path(chunk) / subdir if subdir else Path(chunk)
        if not folder.is_dir():
            raise SstsalError(f"chunk folder {folder} is missing: run the workflow again to recompute it")
        found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in skip]
        files += sorted(found, key=_frame_key)
    return files


def _merge_npz(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                if key in arrays:
                    raise SstsalError(f"{key} is in several chunks ({path}): delete the chunk folders and run again")
                arrays[key] = data[key]
    return arrays


def compute_flow_chunk(
    frames_dir: str | os.PathLike,
    chunk_dir: str | os.PathLike,
    settings: FlowSettings | None = None,
    *,
    frame_range: tuple[int, int],
    raw_npy: bool = False,
    **flow_options: Any,
) -> list[str]:
    """Flow images of the frames with index in ``frame_range`` into ``chunk_dir/flow`` (and the
    raw flow into ``chunk_dir/raw`` when ``raw_npy``); ``chunk_dir`` appears when complete.

    settings, flow_options: as for :func:`sstsal.flow.engines.compute_flow_folder`.
    """
    from sstsal.flow.engines import compute_flow_folder

    remove_stale_temporaries(chunk_dir)
    with atomic_directory(chunk_dir) as tmp:
        return compute_flow_folder(
            frames_dir,
            tmp / FLOW_IMAGES,
            settings,
            frame_range=frame_range,
            raw_npy_dir=(tmp / FLOW_RAW) if raw_npy else None,
            **flow_options,
        )


def gather_flow(
    chunk_dirs: Sequence[str | os.PathLike],
    flow_dir: str | os.PathLike,
    frames_dir: str | os.PathLike,
    *,
    raw_dir: str | os.PathLike | None = None,
) -> int:
    """Put the chunks' flow images into ``flow_dir`` (and their raw .npy files into ``raw_dir``)
    as an unchunked flow stage would have written them. Returns the number of frames."""
    from sstsal.flow.engines import RAW_NPZ

    images = _chunk_files(chunk_dirs, FLOW_IMAGES, skip={RAW_NPZ})
    _check_coverage([p.name for p in images], frames_dir, "flow")
    npz = [Path(c) / FLOW_IMAGES / RAW_NPZ for c in chunk_dirs]
    remove_stale_temporaries(flow_dir)
    with atomic_directory(flow_dir) as tmp:
        for path in images:
            _link_or_copy(path, tmp / path.name)
        if all(p.is_file() for p in npz):
            np.savez(tmp / RAW_NPZ, **_merge_npz(npz))
        if raw_dir is not None:
            with atomic_directory(raw_dir) as raw_tmp:
                for path in _chunk_files(chunk_dirs, FLOW_RAW, skip=set()):
                    _link_or_copy(path, raw_tmp / path.name)
    logger.info("gathered %d flow images of %d chunk(s) into %s", len(images), len(chunk_dirs), flow_dir)
    return len(images)


def predict_chunk(
    frames_dir: str | os.PathLike,
    chunk_dir: str | os.PathLike,
    settings: InferenceSettings | None = None,
    *,
    frame_range: tuple[int, int],
    flow_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    predictor: SaliencyPredictor | None = None,
    seen: np.ndarray | None = None,
    **options: Any,
) -> int:
    """Saliency PNGs and the float16 stack (``saliency.npz``) of the frames with index in
    ``frame_range`` into ``chunk_dir`` (appears when complete), as :func:`predict_video` writes
    them (``seen``: as there). Returns the number of maps.

    The model is ``predictor``'s (loaded once for several chunks), or loaded from ``settings``
    (or its fields as keyword ``options``) for this chunk.
    """
    from sstsal.model.predictor import predict_video

    remove_stale_temporaries(chunk_dir)
    chunk_dir = Path(chunk_dir)
    chunk_dir.parent.mkdir(parents=True, exist_ok=True)
    # the stack is written into a folder of its own beside the PNGs, then moved in: one output
    with atomic_directory(chunk_dir) as tmp:
        return predict_video(
            frames_dir, tmp / "maps", tmp / CHUNK_STACK, settings, flow_dir=flow_dir, threads=threads,
            predictor=predictor, seen=seen, frame_range=frame_range, **options,
        )  # fmt: skip


def gather_saliency(
    chunk_dirs: Sequence[str | os.PathLike],
    maps_dir: str | os.PathLike,
    stack_path: str | os.PathLike,
    frames_dir: str | os.PathLike,
) -> int:
    """Put the chunks' saliency PNGs into ``maps_dir`` and their maps, a window at a time, into
    the float16 stack ``stack_path``, exactly as :func:`sstsal.model.predictor.predict_video`
    writes them for a whole video. Returns the number of frames."""
    from sstsal.media.saliency_stack import StackWriter, open_stack
    from sstsal.model.predictor import warmup_names

    pngs = _chunk_files([Path(c) / "maps" for c in chunk_dirs], None, skip=set())
    _check_coverage([p.name for p in pngs], frames_dir, "saliency")
    stacks = [Path(c) / CHUNK_STACK for c in chunk_dirs]
    names: list[str] = []
    for path in stacks:
        if not path.is_file():
            raise SstsalError(f"chunk stack {path} is missing: delete the chunk folders and run again")
        with open_stack(path) as stack:
            names += [str(n) for n in stack.names]
    if names != [p.stem for p in pngs]:
        raise SstsalError("the chunks' stacks and PNGs name different frames: delete the chunk folders and run again")
    remove_stale_temporaries(maps_dir)
    with atomic_directory(maps_dir) as tmp, StackWriter(stack_path, names, warmup=warmup_names(names)) as out:
        # the stack is finalised inside the folder's context, as predict_video does it
        for path in pngs:
            _link_or_copy(path, tmp / path.name)
        for path in stacks:
            with open_stack(path) as stack:
                for _, window in stack.windows():
                    out.extend(window)
    logger.info("gathered %d saliency maps of %d chunk(s) into %s", len(pngs), len(chunk_dirs), maps_dir)
    return len(pngs)
