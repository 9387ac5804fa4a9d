"""The flow stage: colour-coded optical flow images for a folder of sampled frames.

Flow for frame t is from frame t to frame t+1 of the sampled frames; the last frame repeats
the previous flow (the published data has one flow image per frame). The flow is computed
at a working resolution, colour-coded with ``torchvision.utils.flow_to_image`` (normalised
by the frame's largest motion) and written at the model's input size, 320x240, as PNG.

Engines: ``raft`` (:mod:`sstsal.flow.raft`, what SST-Sal was trained with), and OpenCV's ``dis``
and ``farneback`` (no weights, fast on CPU).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.utils import flow_to_image

from sstsal.atomic import atomic_directory, write_png
from sstsal.devices import resolve_device
from sstsal.errors import InputError
from sstsal.flow.raft import RaftFlow, check_memory, default_seam_margin, load_raft
from sstsal.flow.settings import FlowSettings
from sstsal.frame_size import MODEL_SIZE, flow_working_width  # the flow images SST-Sal reads
from sstsal.media.naming import FrameName, list_frames

logger = logging.getLogger(__name__)

# Bump when a change of this stage's code changes its output: the workflow reruns the stage.
OUTPUT_VERSION = 1

RAW_NPZ = "flow.npz"


# --------------------------------------------------------------------------------------------
# Method and sizes


def resolve_method(method: str, device: str | torch.device | None = "auto") -> str:
    """``auto`` is raft on CUDA and dis otherwise (:meth:`FlowSettings.on`); the others are checked
    (by :class:`FlowSettings`) and returned."""
    settings = FlowSettings(method=method)
    if method != "auto":
        return method
    return _on_device(settings).method


def _on_device(settings: FlowSettings) -> FlowSettings:
    """``settings`` on their resolved device: a job passes a resolved one (its GPU), the CLI ``auto``."""
    resolved = settings.on(str(resolve_device(settings.device)))
    if settings.method == "auto":
        logger.info("flow.method auto: %s (on %s)", resolved.method, resolved.device)
    return resolved


def flow_uses_gpu(method: str, device: str | None = "auto") -> bool:
    """Whether the flow stage with these settings runs on a CUDA device (for ``resources: gpu=1``)."""
    if resolve_method(method, device) != "raft":
        return False
    return resolve_device(device).type == "cuda"


def flow_working_size(frame_width: int, frame_height: int, width: int | None) -> tuple[int, int]:
    """(width, height) of the flow computation for frames of the given size.

    ``width`` None means the frames' own width; a larger width than the frames' is capped
    (:func:`sstsal.frame_size.flow_working_width`). The height keeps the aspect ratio, rounded to a pixel.
    """
    working = flow_working_width(width, frame_width)
    if working == frame_width:
        if width is not None and width > frame_width:
            logger.info("frames are %d px wide: flow at that width, not upscaled to %d", frame_width, width)
        return frame_width, frame_height
    height = max(1, int(round(working * frame_height / frame_width)))
    return working, height


def read_frame_rgb(
    path: str | os.PathLike, size: tuple[int, int] | None = None, *, source_size: tuple[int, int] | None = None
) -> np.ndarray:
    """A frame as uint8 RGB (H, W, 3), resized to ``size`` = (width, height) with INTER_AREA.

    ``source_size``: the (width, height) every frame of the video must have.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read frame {path}: the file is missing, truncated or not an image")
    if source_size is not None and (image.shape[1], image.shape[0]) != source_size:
        raise InputError(
            f"frame {path} is {image.shape[1]}x{image.shape[0]} but the video's first frame is "
            f"{source_size[0]}x{source_size[1]}: all frames of a video must have one size"
        )
    if size is not None and (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[:, :, ::-1])


def _read_frames(
    paths: Sequence[Path], size: tuple[int, int], source_size: tuple[int, int], lookahead: int = 6
) -> Iterator[np.ndarray]:
    """Frames in order, decoded ahead in threads (PNG decoding releases the GIL)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        pending: collections.deque[concurrent.futures.Future[np.ndarray]] = collections.deque()
        index = 0
        while index < len(paths) or pending:
            while index < len(paths) and len(pending) < lookahead:
                pending.append(pool.submit(read_frame_rgb, paths[index], size, source_size=source_size))
                index += 1
            yield pending.popleft().result()


# --------------------------------------------------------------------------------------------
# Flow images


def flow_image(flow: np.ndarray, *, size: tuple[int, int] = MODEL_SIZE, color_order: str = "rgb") -> np.ndarray:
    """The colour-coded flow image to write with ``cv2.imwrite``: uint8 (size[1], size[0], 3).

    ``torchvision.utils.flow_to_image`` of the (H, W, 2) flow, resized with INTER_AREA.
    ``color_order='rgb'`` gives a PNG with its true colours; 'swapped' gives what a plain
    ``cv2.imwrite`` of the RGB array gives (red and blue exchanged): which one SST-Sal's
    training images had was never published.
    """
    FlowSettings(color_order=color_order)  # checks the name
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise InputError(f"flow must be (H, W, 2), got {flow.shape}")
    rgb = flow_to_image(torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1))
    rgb = rgb.permute(1, 2, 0).numpy()
    if (rgb.shape[1], rgb.shape[0]) != size:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    image = rgb[:, :, ::-1] if color_order == "rgb" else rgb  # imwrite takes BGR
    return np.ascontiguousarray(image)


# --------------------------------------------------------------------------------------------
# Engines


def _wrap_margin(width: int, seam: str, seam_margin: int | None) -> int:
    if seam == "pad":
        return 0
    if seam != "wrap":
        raise InputError(f"seam must be pad or wrap, not {seam!r}")
    margin = default_seam_margin(width) if seam_margin is None else int(seam_margin)
    if not 0 <= margin <= width // 2:
        raise InputError(f"seam margin {margin} must be between 0 and half the frame width, {width // 2}")
    return margin


def opencv_flow_pairs(
    frames: Iterable[np.ndarray], *, method: str = "dis", seam: str = "pad", seam_margin: int | None = None
) -> Iterator[np.ndarray]:
    """OpenCV flow (DIS, medium preset, or Farneback) of consecutive uint8 RGB frames: (H, W, 2) each.

    ``seam='wrap'`` adds a wrapped-around margin on both sides before and crops it after.
    """
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

        def estimate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return dis.calc(a, b, None)

    elif method == "farneback":

        def estimate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    else:
        raise InputError(f"OpenCV flow method must be dis or farneback, not {method!r}")
    previous: np.ndarray | None = None
    margin = 0
    for frame in frames:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if previous is None:
            margin = _wrap_margin(gray.shape[1], seam, seam_margin)
        if margin:
            gray = np.pad(gray, ((0, 0), (margin, margin)), mode="wrap")
        if previous is not None:
            if previous.shape != gray.shape:
                raise InputError(f"all frames must have one size: {gray.shape} after {previous.shape}")
            flow = estimate(previous, gray)
            yield np.ascontiguousarray(flow[:, margin : flow.shape[1] - margin], dtype=np.float32)
        previous = gray


def flow_pairs(
    frames: Iterable[np.ndarray],
    settings: FlowSettings | None = None,
    *,
    num_frames: int | None = None,
    **options: Any,
) -> Iterator[np.ndarray]:
    """Flow (H, W, 2) float32 of each consecutive pair of uint8 RGB ``frames`` with ``settings``
    (or :class:`FlowSettings` of the keyword ``options``)."""
    settings = _on_device(FlowSettings.from_options(settings, **options))
    if settings.method != "raft":
        yield from opencv_flow_pairs(frames, method=settings.method, seam=settings.seam, seam_margin=settings.seam_margin)
        return

    torch_device = torch.device(settings.device)
    engine = RaftFlow.from_settings(load_raft(settings.checkpoint, device=torch_device), settings, device=torch_device)
    yield from engine.pairs(frames, num_frames=num_frames)


# --------------------------------------------------------------------------------------------
# The stage


class _NpzWriter:
    """Writes a .npz one array at a time (``np.savez`` needs them all in memory at once)."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def add(self, name: str, array: np.ndarray) -> None:
        with self._zip.open(f"{name}.npy", mode="w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)

    def close(self) -> None:
        self._zip.close()


def _check_out_folder(out_dir: Path, frames: list[FrameName]) -> None:
    """Refuse to replace a folder holding anything but a previous flow output of these frames."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(f"output {out_dir} exists and is not a folder")
    ours = {f.filename for f in frames} | {RAW_NPZ}
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in ours and not p.name.startswith("."))
    if foreign:
        raise InputError(
            f"output folder {out_dir} holds other files ({', '.join(foreign[:3])}"
            f"{' ...' if len(foreign) > 3 else ''}): it is replaced as a whole, so give a new or empty folder"
        )


def compute_flow_folder(
    frames_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: FlowSettings | None = None,
    *,
    save_raw: bool = False,
    raw_npy_dir: str | os.PathLike | None = None,
    frame_range: tuple[int, int] | None = None,
    progress: bool = True,
    **options: Any,
) -> list[str]:
    """Write ``out_dir/<frame name>`` (the flow image) for every frame of ``frames_dir``.

    Args:
        frames_dir: one video's frames, ``<video>_<number>.png``.
        out_dir: created (or replaced) as a whole when everything is written.
        settings: how the flow is computed (see :class:`FlowSettings`); or give its fields as
            keyword ``options`` (method, checkpoint, width, iters, ...).
        save_raw: also write ``out_dir/flow.npz``: float32 (H, W, 2) flow at the working
            resolution, keyed by frame name without extension.
        raw_npy_dir: also write ``<raw_npy_dir>/<frame stem>.npy``, float16 (H, W, 2).
        frame_range: only the frames with index in ``[start, stop)`` of the sorted frames; the
            frames around the range that their flow needs are read too, so the images equal
            those of a whole-video run.

    Returns the frame names written, in order.
    """
    settings = FlowSettings.from_options(settings, **options)
    frames = list_frames(frames_dir)
    total = len(frames)
    start, stop = (0, total) if frame_range is None else (int(frame_range[0]), int(frame_range[1]))
    if not 0 <= start < stop <= total:
        raise InputError(f"frame range [{start}, {stop}) is not within the {total} frames of {frames_dir}")
    targets = frames[start:stop]
    # pair t is frames (t, t+1); the last frame uses pair total-2. Read what those pairs need.
    first_read = min(start, max(0, total - 2))
    last_read = min(stop + 1, total)
    out_dir = Path(out_dir)
    _check_out_folder(out_dir, targets)
    paths = [Path(frames_dir) / f.filename for f in frames[first_read:last_read]]
    first = cv2.imread(str(paths[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise InputError(f"cannot read frame {paths[0]}: the file is missing, truncated or not an image")
    size = flow_working_size(first.shape[1], first.shape[0], settings.width)
    settings = _on_device(settings)
    method = settings.method
    logger.info(
        "flow of %d frames of %s with %s at %dx%d (frames are %dx%d)",
        len(targets), frames_dir, method, size[0], size[1], first.shape[1], first.shape[0],
    )
    if total == 1:
        logger.warning("only one frame: its flow image shows no motion")
    if method == "raft":
        # a size the device cannot hold stops here, before the model loads or anything is written
        check_memory(size[1], size[0], device=settings.device, precision=settings.precision, seam=settings.seam,
                     seam_margin=settings.seam_margin, batch_size=settings.batch_size)  # fmt: skip

    flows = flow_pairs(_read_frames(paths, size, (first.shape[1], first.shape[0])), settings, num_frames=len(paths))
    pair_index, pair_flow = first_read - 1, np.zeros((size[1], size[0], 2), np.float32)

    def flow_of_frame(index: int) -> np.ndarray:
        nonlocal pair_index, pair_flow
        wanted = min(index, total - 2)  # the last frame repeats the previous flow
        while pair_index < wanted:
            pair_flow = next(flows)
            pair_index += 1
        return pair_flow

    from sstsal.logs import progress_bar

    raw_folder = atomic_directory(raw_npy_dir) if raw_npy_dir is not None else contextlib.nullcontext()
    with atomic_directory(out_dir) as tmp, raw_folder as raw_tmp:
        # the whole folder appears at once, so the npz is written inside it under a hidden name
        npz_tmp = (tmp / f".{RAW_NPZ}.partial") if save_raw else None
        npz = _NpzWriter(npz_tmp) if npz_tmp is not None else None
        try:
            bar = progress_bar(len(targets), f"flow ({method})", disable=not progress)
            for index, frame in enumerate(targets, start=start):
                flow = flow_of_frame(index)
                write_png(tmp / frame.filename, flow_image(flow, color_order=settings.color_order))
                if npz is not None:
                    npz.add(frame.stem, flow.astype(np.float32))
                if raw_tmp is not None:
                    np.save(raw_tmp / f"{frame.stem}.npy", flow.astype(np.float16))
                bar.update(1)
            bar.close()
        finally:
            if npz is not None:
                npz.close()
            flows.close()
        if npz_tmp is not None:
            os.replace(npz_tmp, tmp / RAW_NPZ)
    logger.info("wrote %d flow images to %s", len(targets), out_dir)
    return [f.filename for f in targets]
