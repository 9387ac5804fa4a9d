"""Resumable pieces of one long job: a killed flow or inference job redoes only its unfinished piece.

A video longer than one piece (config ``piece_seconds``, default 300 s of video) is worked in
pieces of consecutive frames, each written atomically into a folder that outlives the job
(``results/<video>/pieces/<stage>/<start>-<stop>``, not a Snakemake output, so Snakemake leaves
it in place when it reruns the killed job). The rerun finds the finished pieces and starts at the
first unfinished one; at the end the pieces are gathered into exactly the outputs of a run in one
go (:func:`sstsal.pipeline.chunks.gather_saliency`, :func:`~sstsal.pipeline.chunks.gather_flow`:
bit for bit the same files) and the piece folder is deleted.

The folder holds ``settings.json``, the fingerprint of what the pieces were made from (the job's
params, the frame count, the piece size and the identity of the input folders); a rerun with
anything else deletes the old pieces and starts again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sstsal.atomic import write_text
from sstsal.pipeline.chunks import chunk_label, plan_chunks

logger = logging.getLogger(__name__)

SETTINGS = "settings.json"


def piece_frames(piece_seconds: float, sampled_fps: float) -> int:
    """Sampled frames per piece: ``piece_seconds`` of video at ``sampled_fps`` (0: one piece)."""
    if piece_seconds < 0 or sampled_fps <= 0:
        raise ValueError(f"piece_seconds must be 0 or more and the sampling rate positive, got {piece_seconds}, {sampled_fps}")
    return 0 if piece_seconds == 0 else max(1, math.ceil(piece_seconds * sampled_fps))


def folder_identity(path: str | os.PathLike | None) -> list[int] | None:
    """(inode, mtime ns) of an input folder: a re-made folder (renamed into place) differs."""
    if not path:
        return None
    stat = os.stat(path)
    return [stat.st_ino, stat.st_mtime_ns]


def run_in_pieces(
    work_dir: str | os.PathLike,
    num_frames: int,
    frames_per_piece: int,
    fingerprint: Mapping[str, Any],
    make_piece: Callable[[tuple[int, int], Path], Any],
) -> list[Path]:
    """Make every piece of ``range(num_frames)`` that ``work_dir`` does not hold finished yet.

    ``make_piece(frame_range, piece_dir)`` must create ``piece_dir`` atomically (it exists only
    when complete). ``fingerprint``: JSON-able facts the pieces depend on; pieces made with other
    facts are deleted first. Returns the piece folders in frame order.
    """
    work_dir = Path(work_dir)
    plan = plan_chunks(num_frames, frames_per_piece)
    facts = json.loads(json.dumps({**fingerprint, "frames": num_frames, "piece_frames": frames_per_piece}, default=str))
    settings = work_dir / SETTINGS
    if work_dir.exists():
        try:
            kept = json.loads(settings.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = None
        if kept != facts:
            logger.info("deleting the pieces in %s: they were made with other settings or inputs", work_dir)
            shutil.rmtree(work_dir)
    if not work_dir.exists():
        work_dir.mkdir(parents=True)
        write_text(settings, json.dumps(facts, indent=1) + "\n")
    pieces = [work_dir / chunk_label(r) for r in plan]
    done = [p.is_dir() for p in pieces]
    if any(done):
        logger.info("resuming: %d of %d piece(s) in %s are finished", sum(done), len(plan), work_dir)
    for frame_range, piece, finished in zip(plan, pieces, done):
        if not finished:
            logger.info("piece %s of %d (frames %d to %d of %d)", piece.name, len(plan), frame_range[0], frame_range[1] - 1, num_frames)
            make_piece(frame_range, piece)
    return pieces


def remove_pieces(work_dir: str | os.PathLike) -> None:
    """Delete the piece folder once its pieces are gathered (and its parent when empty)."""
    work_dir = Path(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    try:
        work_dir.parent.rmdir()
    except OSError:
        pass


def predict_video_in_pieces(
    frames_dir: str | os.PathLike,
    maps_dir: str | os.PathLike,
    stack_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    *,
    frames_per_piece: int,
    fingerprint: Mapping[str, Any],
    predictor: Any,
    flow_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    seen: Any = None,
) -> int:
    """:func:`sstsal.model.predictor.predict_video` (same outputs, bit for bit), in resumable
    pieces of ``frames_per_piece`` frames when the video has more (see the module docstring)."""
    import hashlib

    from sstsal.media.naming import list_frames
    from sstsal.model.predictor import predict_video
    from sstsal.pipeline.chunks import gather_saliency, predict_chunk

    num_frames = len(list_frames(frames_dir))
    run = dict(flow_dir=flow_dir, threads=threads, predictor=predictor, seen=seen)
    if not frames_per_piece or num_frames <= frames_per_piece:
        return predict_video(frames_dir, maps_dir, stack_path, **run)
    facts = dict(fingerprint, frames_dir=folder_identity(frames_dir), flow_dir=folder_identity(flow_dir),
                 seen=None if seen is None else hashlib.sha256(seen.tobytes()).hexdigest())  # fmt: skip
    pieces = run_in_pieces(work_dir, num_frames, frames_per_piece, facts,
                           lambda frame_range, piece: predict_chunk(frames_dir, piece, frame_range=frame_range, **run))  # fmt: skip
    count = gather_saliency(pieces, maps_dir, stack_path, frames_dir)
    remove_pieces(work_dir)
    return count


def compute_flow_in_pieces(
    frames_dir: str | os.PathLike,
    flow_dir: str | os.PathLike,
    settings: Any,
    work_dir: str | os.PathLike,
    *,
    frames_per_piece: int,
    fingerprint: Mapping[str, Any],
    raw_dir: str | os.PathLike | None = None,
) -> int:
    """:func:`sstsal.flow.engines.compute_flow_folder` (same flow images, bit for bit), in
    resumable pieces of ``frames_per_piece`` frames when the video has more."""
    from sstsal.flow.engines import compute_flow_folder
    from sstsal.media.naming import list_frames
    from sstsal.pipeline.chunks import compute_flow_chunk, gather_flow

    num_frames = len(list_frames(frames_dir))
    if not frames_per_piece or num_frames <= frames_per_piece:
        return len(compute_flow_folder(frames_dir, flow_dir, settings, raw_npy_dir=raw_dir))
    facts = dict(fingerprint, frames_dir=folder_identity(frames_dir))
    pieces = run_in_pieces(work_dir, num_frames, frames_per_piece, facts,
                           lambda frame_range, piece: compute_flow_chunk(frames_dir, piece, settings, frame_range=frame_range,
                                                                          raw_npy=raw_dir is not None))  # fmt: skip
    count = gather_flow(pieces, flow_dir, frames_dir, raw_dir=raw_dir)
    remove_pieces(work_dir)
    return count
