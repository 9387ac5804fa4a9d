"""SST-Sal inference over one video's frames, with a map for every frame.

The published code cuts a video into 20-frame windows overlapping by 4 (ends at 20, 36, ...,
strictly before the last frame) and drops the first 4 outputs of each window (warm-up from
zero states). That leaves frames 0-3 and the frames after the last window without a map.
We run exactly the published windows, so those frames get the published values, and add:

* frames 0-3: the first window's own (warm-up) outputs;
* the tail: one more window ending at the last frame, whose outputs after the last
  published window are kept (they are at least 4 frames into that window);
* videos of at most 20 frames: one window over all frames, every output kept.

Windows are independent, so they run as a batch. Each window is computed the same way
whatever else is in its batch, so a subset of frames (``frame_range``, used to split long
videos into jobs) gives bit-identical maps.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sstsal.atomic import atomic_directory, check_replaceable
from sstsal.devices import resolve_device
from sstsal.errors import InputError
from sstsal.logs import progress_bar
from sstsal.media.naming import FrameName, list_frames, match_flow, parse_frame_name
from sstsal.media.saliency_stack import StackWriter, unseen_masked_map
from sstsal.model.inputs import check_same_size, read_model_image
from sstsal.model.network import SSTSal, release_scratch
from sstsal.model.settings import InferenceSettings

# Bump when a change alters the maps: the workflow reruns inference when it changes.
OUTPUT_VERSION = 1

WINDOW = 20
WARMUP = 4

logger = logging.getLogger(__name__)


def temporal_context_warning(n_frames: int) -> str | None:
    """A warning for videos shorter than one window: their maps see little temporal context."""
    if n_frames >= WINDOW:
        return None
    return (
        f"only {n_frames} sampled frames (fewer than the model's {WINDOW}-frame window): its maps have little "
        "temporal context, the first ones almost none; treat them with care"
    )


@dataclass(frozen=True)
class Window:
    """Frames ``[start, stop)`` run from zero states; outputs ``[keep_from, stop)`` are kept."""

    start: int
    stop: int
    keep_from: int


def plan_windows(n_frames: int, window: int = WINDOW, warmup: int = WARMUP) -> list[Window]:
    """The windows that give every one of ``n_frames`` frames exactly one map."""
    if n_frames <= 0:
        return []
    if n_frames <= window:
        return [Window(0, n_frames, 0)]
    ends = range(window, n_frames, window - warmup)  # the published windows
    windows = [Window(end - window, end, 0 if i == 0 else end - window + warmup) for i, end in enumerate(ends)]
    if windows[-1].stop < n_frames:
        windows.append(Window(n_frames - window, n_frames, windows[-1].stop))
    return windows



def warmup_frames(n_frames: int, warmup: int = WARMUP) -> range:
    """The frames (indices into the video's sampled frames) whose map had fewer than ``warmup``
    frames of temporal context: the first window's first outputs, which the published code
    drops (every other kept output is at least ``warmup`` frames into its window)."""
    return range(min(warmup, max(n_frames, 0)))


def warmup_names(names: Sequence[str]) -> list[str]:
    """Of one whole video's map names (any order), those of :func:`warmup_frames` (frame order)."""
    ordered = sorted(names, key=lambda stem: parse_frame_name(f"{stem}.png").number)
    return [ordered[i] for i in warmup_frames(len(ordered))]


def default_batch_size(device: torch.device) -> int:
    # A 20-frame window at 240x320 holds ~0.9 GB of precomputed input gates in float32.
    return 16 if device.type == "cuda" else 2


def normalise_map(raw: torch.Tensor) -> np.ndarray:
    """Per-frame min-max to uint8, as the published code (truncation, not rounding).

    A constant map (max == min) becomes all zeros instead of the published NaNs.
    """
    lo, hi = torch.min(raw), torch.max(raw)
    if hi <= lo:
        return np.zeros(raw.shape, dtype=np.uint8)
    return (((raw - lo) / (hi - lo)).numpy() * 255).astype(np.uint8)


class _FrameCache:
    """Loads each frame (and flow image) once, forgets frames no later window needs."""

    def __init__(self, frames: Sequence[Path], flows: Sequence[Path] | None) -> None:
        self.frames, self.flows = frames, flows
        self.loaded: dict[int, np.ndarray] = {}

    def window(self, w: Window) -> np.ndarray:
        for index in [i for i in self.loaded if i < w.start]:
            del self.loaded[index]
        return np.stack([self._get(i) for i in range(w.start, w.stop)])  # (T, H, W, C)

    def _get(self, index: int) -> np.ndarray:
        if index not in self.loaded:
            image = read_model_image(self.frames[index])
            if self.flows is not None:
                image = np.concatenate([image, read_model_image(self.flows[index])], axis=-1)
            self.loaded[index] = image
        return self.loaded[index]


def iter_maps(
    model: SSTSal,
    frames: Sequence[Path],
    flows: Sequence[Path] | None = None,
    *,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    frame_range: tuple[int, int] | None = None,
    progress: bool = True,
) -> Iterator[tuple[int, torch.Tensor]]:
    """``(frame index, raw model output (240, 320) float32)`` for each frame (all, or
    ``frame_range``) in frame order, as the batches finish: a caller that writes each map away
    holds one batch, whatever the video's length."""
    device = resolve_device(str(device))
    batch_size = batch_size or default_batch_size(device)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    expected = 6 if flows is not None else 3
    if model.input_channels != expected:
        raise InputError(
            f"the checkpoint expects {model.input_channels} input channels but the input has {expected} "
            f"({'frames and flow' if flows is not None else 'frames only'}): "
            + ("use the no-flow checkpoint (--no-flow)" if flows is None else "use the checkpoint with flow")
        )
    start, stop = frame_range or (0, len(frames))
    if not 0 <= start < stop <= len(frames):
        raise InputError(f"frame range [{start}, {stop}) is outside the {len(frames)} frames")
    windows = [w for w in plan_windows(len(frames)) if w.keep_from < stop and w.stop > start]

    model = model.to(device).eval()
    cache = _FrameCache(frames, flows)
    batches = [windows[i : i + batch_size] for i in range(0, len(windows), batch_size)]
    with torch.inference_mode(), progress_bar(stop - start, "inference", disable=not progress) as bar:
        for batch in batches:
            # Windows of one batch have one length (only a single short video differs).
            x = torch.from_numpy(np.stack([cache.window(w) for w in batch]))  # (B, T, H, W, C)
            x = x.to(device, non_blocking=True).permute(0, 1, 4, 2, 3)
            out = model(x)[:, :, 0].float().cpu()  # one transfer per batch
            del x
            for w, window_out in zip(batch, out):
                for index in range(max(w.keep_from, start), min(w.stop, stop)):
                    yield index, window_out[index - w.start]
                    bar.update(1)
    release_scratch()  # up to a few GB on CPU; the next video allocates its own


def predict_maps(
    model: SSTSal,
    frames: Sequence[Path],
    flows: Sequence[Path] | None = None,
    *,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    frame_range: tuple[int, int] | None = None,
    progress: bool = True,
) -> dict[int, torch.Tensor]:
    """Raw model output ``(240, 320)`` float32 for each frame index (all, or ``frame_range``), in
    memory: for short clips; :func:`iter_maps` streams them."""
    return dict(iter_maps(model, frames, flows, device=device, batch_size=batch_size, frame_range=frame_range,
                          progress=progress))  # fmt: skip


@dataclass(frozen=True)
class FolderInputs:
    """One video's frames (sorted) and their flow images (None without flow), checked."""

    frames: list[FrameName]
    frame_paths: list[Path]
    flow_paths: list[Path] | None


def folder_inputs(
    frames_dir: str | os.PathLike, out_dir: str | os.PathLike, flow_dir: str | os.PathLike | None, *, uses_flow: bool
) -> FolderInputs:
    """The frames of ``frames_dir`` and their flow images in ``flow_dir``, checked before any work:
    the output folder is replaceable, every frame has a flow image, all images have one size."""
    frames = list_frames(frames_dir)
    check_replaceable(Path(out_dir))  # before any work: --out must not hold anything else
    if uses_flow and flow_dir is None:
        raise InputError("no flow folder given: pass --flow DIR, or --no-flow to use the model without optical flow")
    frame_paths = [Path(frames_dir) / f.filename for f in frames]
    flow_paths = match_flow(frames, flow_dir) if uses_flow else None
    check_same_size(frame_paths)
    if flow_paths is not None:
        check_same_size(flow_paths)
    return FolderInputs(frames, frame_paths, flow_paths)


class SaliencyPredictor:
    """SST-Sal loaded once on its device, predicting one frames folder after another (the pattern of
    segment-anything's predictor): ``SaliencyPredictor.from_settings(settings).predict_folder(...)``.

    Args:
        model: the network (see :func:`sstsal.model.checkpoint.load_model`); moved to ``device``.
        device: auto, cpu, cuda or cuda:N.
        batch_size: windows per batch (None: 2 on CPU, 16 on CUDA).
        uses_flow: whether folders come with flow images (None: whether the model takes 6 channels).
    """

    def __init__(
        self, model: SSTSal, *, device: str | torch.device = "auto", batch_size: int | None = None, uses_flow: bool | None = None
    ) -> None:
        self.device = resolve_device(str(device))
        self.batch_size = batch_size or default_batch_size(self.device)
        if self.batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {self.batch_size}")
        self.model = model.to(self.device).eval()
        self.uses_flow = model.input_channels == 6 if uses_flow is None else bool(uses_flow)

    @classmethod
    def from_settings(cls, settings: InferenceSettings) -> SaliencyPredictor:
        """Load the checkpoint ``settings`` name (the published one by default) onto its device."""
        from sstsal.model.checkpoint import load_model

        model = load_model(settings.checkpoint_file())
        return cls(model, device=settings.device, batch_size=settings.batch_size, uses_flow=settings.uses_flow)

    def predict_maps(
        self,
        frames: Sequence[Path],
        flows: Sequence[Path] | None = None,
        *,
        frame_range: tuple[int, int] | None = None,
        progress: bool = True,
    ) -> dict[int, torch.Tensor]:
        """:func:`predict_maps` with this predictor's model, device and batch size."""
        return predict_maps(
            self.model, frames, flows, device=self.device, batch_size=self.batch_size, frame_range=frame_range,
            progress=progress,
        )  # fmt: skip

    def predict_folder(
        self,
        frames_dir: str | os.PathLike,
        out_dir: str | os.PathLike,
        *,
        flow_dir: str | os.PathLike | None = None,
        save_raw: bool = False,
        progress: bool = True,
        frame_range: tuple[int, int] | None = None,
    ) -> dict[str, np.ndarray]:
        """Predict one video's frames folder; see :func:`predict_folder`."""
        inputs = folder_inputs(frames_dir, out_dir, flow_dir, uses_flow=self.uses_flow)
        return self.write_folder(inputs, out_dir, save_raw=save_raw, progress=progress, frame_range=frame_range)

    def write_folder(
        self,
        inputs: FolderInputs,
        out_dir: str | os.PathLike,
        *,
        save_raw: bool = False,
        progress: bool = True,
        frame_range: tuple[int, int] | None = None,
    ) -> dict[str, np.ndarray]:
        """Predict checked ``inputs`` into ``out_dir`` (appears only when complete); the raw maps,
        held in memory (a short clip's); :meth:`stream_folder` holds none."""
        raw: dict[str, np.ndarray] = {}
        self.stream_folder(inputs, out_dir, save_raw=save_raw, progress=progress, frame_range=frame_range, collect=raw)
        return raw

    def stream_folder(
        self,
        inputs: FolderInputs,
        out_dir: str | os.PathLike,
        *,
        save_raw: bool = False,
        progress: bool = True,
        frame_range: tuple[int, int] | None = None,
        stack_path: str | os.PathLike | None = None,
        seen: np.ndarray | None = None,
        collect: dict[str, np.ndarray] | None = None,
    ) -> int:
        """Predict checked ``inputs`` into ``out_dir`` (a PNG per frame; with ``save_raw`` also
        ``raw.npz``), and into the stack ``stack_path`` when given, each map written as it is
        produced; ``out_dir`` and the stack appear only when both are complete. ``seen``: see
        :func:`predict_video`. ``collect``: a dict that also receives every raw map (tests, short
        clips). Returns the number of maps."""
        from sstsal.atomic import write_png

        frames = inputs.frames
        warning = temporal_context_warning(len(frames))
        if warning and (frame_range is None or frame_range[0] == 0):
            logger.warning("warning: %s: %s", Path(inputs.frame_paths[0]).parent.name, warning)
        start, stop = frame_range or (0, len(frames))
        count = 0
        # the stack is finalised before the folder is renamed: no maps folder without its stack
        with atomic_directory(out_dir) as tmp, contextlib.ExitStack() as outputs:
            stack = None
            if stack_path is not None:
                warm = [frames[i].stem for i in warmup_frames(len(frames)) if start <= i < stop]
                stack = outputs.enter_context(StackWriter(stack_path, [f.stem for f in frames[start:stop]], warmup=warm))
            raw = outputs.enter_context(RawMapsWriter(tmp / "raw.npz")) if save_raw else None
            for i, m in self.iter_maps(inputs.frame_paths, inputs.flow_paths, frame_range=frame_range, progress=progress):
                m = m.numpy()
                if raw is not None:
                    raw.add(frames[i].stem, m)
                if collect is not None:
                    collect[frames[i].stem] = m
                if seen is not None:
                    m = unseen_masked_map(m, seen)
                write_png(tmp / frames[i].filename, normalise_map(torch.from_numpy(m)))
                if stack is not None:
                    stack.append(m)
                count += 1
        return count

    def iter_maps(
        self,
        frames: Sequence[Path],
        flows: Sequence[Path] | None = None,
        *,
        frame_range: tuple[int, int] | None = None,
        progress: bool = True,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """:func:`iter_maps` with this predictor's model, device and batch size."""
        return iter_maps(
            self.model, frames, flows, device=self.device, batch_size=self.batch_size, frame_range=frame_range,
            progress=progress,
        )  # fmt: skip


class RawMapsWriter:
    """``raw.npz`` (one float32 (240, 320) array per frame name, as ``np.savez`` writes it), each
    map written into the archive as it comes: ``with RawMapsWriter(path) as raw: raw.add(name, m)``."""

    def __init__(self, path: str | os.PathLike) -> None:
        import zipfile

        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def add(self, name: str, saliency_map: np.ndarray) -> None:
        with self._zip.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.asarray(saliency_map, dtype=np.float32), allow_pickle=False)

    def __enter__(self) -> RawMapsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()


def predict_folder(
    frames_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: InferenceSettings | None = None,
    *,
    flow_dir: str | os.PathLike | None = None,
    save_raw: bool = False,
    progress: bool = True,
    frame_range: tuple[int, int] | None = None,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Predict one video's frames folder; write ``out_dir/<frame name>.png`` for each frame.

    ``settings`` (or its fields as keyword ``options``: checkpoint, no_flow, device, batch_size)
    say which model runs where. The inputs are checked before the model is loaded. ``out_dir``
    appears only when complete. With ``save_raw`` also ``out_dir/raw.npz`` (float32 (240, 320)
    per frame name without extension). Returns those raw maps (held in memory: for a long video
    use :func:`predict_video` or :meth:`SaliencyPredictor.stream_folder`, which hold none). To
    predict several folders with one loaded model, use :class:`SaliencyPredictor`.
    """
    settings = InferenceSettings.from_options(settings, **options)
    inputs = folder_inputs(frames_dir, out_dir, flow_dir, uses_flow=settings.uses_flow)
    predictor = SaliencyPredictor.from_settings(settings)
    return predictor.write_folder(inputs, out_dir, save_raw=save_raw, progress=progress, frame_range=frame_range)


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
    frame_range: tuple[int, int] | None = None,
    **options: Any,
) -> int:
    """Predict one video's frames folder into ``maps_dir`` (PNG per frame) and the float16 stack
    at ``stack_path`` (see :mod:`sstsal.media.saliency_stack`), each map written as it is
    produced; both appear only when complete. Returns the number of frames.

    The model is ``predictor``'s (loaded once for several videos), or loaded from ``settings``
    (or its fields as keyword ``options``: checkpoint, no_flow, device, batch_size).
    seen: for a half-sphere video, the directions it covers (see
    :func:`sstsal.media.saliency_stack.seen_directions`); the maps (PNGs and stack) are 0 elsewhere.
    frame_range: only the frames ``[start, stop)`` (a piece of a long video).
    """
    if threads:
        torch.set_num_threads(threads)
    if predictor is not None and (settings is not None or options):
        raise TypeError("give a predictor or inference settings, not both")
    if predictor is None:
        settings = InferenceSettings.from_options(settings, **options)
    inputs = folder_inputs(frames_dir, maps_dir, flow_dir, uses_flow=(predictor or settings).uses_flow)
    predictor = predictor or SaliencyPredictor.from_settings(settings)
    count = predictor.stream_folder(inputs, maps_dir, progress=True, frame_range=frame_range, stack_path=stack_path, seen=seen)
    logger.info("%d saliency maps in %s, stack %s", count, maps_dir, stack_path)
    return count
