"""Training and fine-tuning SST-Sal with the published recipe, resumable after a kill.

The published recipe (``train.py``, ``config.py``, ``DataLoader360Video.py`` and
``sphericalKLDiv.py`` of the SST-Sal repository), which is the default here:

* loss: spherical KL divergence of the ground truth to the prediction per frame. Both maps are
  min-max normalised, then divided by their sum (``eps = 1e-8``); each pixel's term
  ``g * log(g / (p + eps) + eps)`` is weighted by its solid angle
  ``dphi * dtheta * (sin theta_top + sin theta_bottom) / 2``; the loss of a batch is the sum
  over its sequences and frames;
* SGD, learning rate 0.8, no momentum, batch size 1, 240 epochs;
* sequences of 20 consecutive frames that do not overlap, starting after the first 20 frames
  of each video (observers were told where to look at the start of a recording);
* augmentation: each sequence rotated about the vertical axis by a random whole number of
  pixels (a horizontal roll of frames, flow images and ground truth together);
* validation split by video: the first ``ceil(0.2 * N)`` videos of the training list;
* inputs exactly as the published loader reads them (``cv2.imread``, ``INTER_AREA`` resize,
  BGR/255; ground truth in grey, resized, min-max normalised), with or without flow
  (hidden size 36 with flow, 9 without).

Departures, each a documented option or a fix:

* the published code drops a video's last sequence when it ends exactly at the last frame
  (``range(start, len(frames), 20)``); every complete sequence is used here;
* the published loader checks the *flow* folder when deciding that a frame has ground truth;
  a sequence is used here only when every frame has a frame, a flow image (with flow) and a
  ground-truth map, and the dropped sequences are counted;
* the published ``train.py`` does not switch on the rotation augmentation it defines;
  ``rotate=False`` (``--no-rotate``) trains without it;
* reported losses are means per frame (the published log shows the sum per batch);
* constant ground-truth maps become all zeros instead of the published NaNs.

Resuming: the order of sequences and the rotations are pure functions of ``(seed, epoch,
sequence)``, and the checkpoint holds model, optimiser, position in the epoch and the loss log,
so a run killed at any moment and resumed gives the same weights as an uninterrupted run.
Every file is written atomically.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sstsal.errors import InputError, SstsalError
from sstsal.evaluation.evaluate import index_maps
from sstsal.pipeline.atomic import atomic_file, write_text

CHECKPOINT = "checkpoint.pt"
FINAL_WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
LOSS_LOG = "losses.csv"
CONFIG = "train_config.json"
LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "train_sequences", "val_sequences", "seconds")
KL_EPS = 1e-8  # the published loss's epsilon


@dataclass
class TrainConfig:
    """Settings of a training run; defaults are the published recipe."""

    epochs: int = 240
    lr: float = 0.8
    momentum: float = 0.0
    batch_size: int = 1
    sequence_length: int = 20
    skip_frames: int = 20
    val_fraction: float = 0.2
    height: int = 240
    width: int = 320
    rotate: bool = True
    use_flow: bool = True
    hidden_channels: int | None = None  # None: 36 with flow, 9 without (or the --init model's)
    init: str | None = None  # checkpoint to fine-tune from
    seed: int = 0
    checkpoint_minutes: float = 10.0  # also checkpoint within an epoch this often

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.sequence_length < 1 or self.skip_frames < 0:
            raise InputError("epochs, batch size and sequence length must be at least 1, skip frames at least 0")
        if self.lr <= 0:
            raise InputError(f"the learning rate must be positive, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise InputError(f"the validation fraction must lie in [0, 1), got {self.val_fraction}")
        if self.height % 2 or self.width % 2 or self.height < 2 or self.width < 2:
            raise InputError(f"the resolution must be even in both directions, got {self.height}x{self.width}")


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoData:
    """One video's frames in order, with their flow images and ground-truth maps (None: missing)."""

    name: str
    frames: tuple[Path, ...]
    flows: tuple[Path | None, ...]
    saliency: tuple[Path | None, ...]


@dataclass
class DataLayout:
    """Where the frames, flow images and ground truth of video ``{video}`` live.

    Each is a folder pattern containing ``{video}``. The published layout is
    ``ROOT/frames/{video}``, ``ROOT/optical_flow/{video}``, ``ROOT/saliency_maps/{video}``;
    the workflow's is ``results/{video}/frames``, ``results/{video}/flow`` and the ground truth
    folder given in its config.
    """

    frames: str
    gt: str
    flow: str | None = None

    @classmethod
    def published(cls, root: str | Path) -> DataLayout:
        root = Path(root)
        return cls(
            frames=str(root / "frames" / "{video}"),
            flow=str(root / "optical_flow" / "{video}"),
            gt=str(root / "saliency_maps" / "{video}"),
        )

    def absolute(self) -> DataLayout:
        """The same layout with absolute folder patterns (saved with a run, so --resume works anywhere)."""
        absolute = lambda p: None if p is None else str(Path(p).absolute())  # noqa: E731
        return DataLayout(frames=absolute(self.frames), gt=absolute(self.gt), flow=absolute(self.flow))

    def folder(self, kind: str, video: str) -> Path:
        """The ``kind`` (frames, flow, gt) folder of ``video``; a pattern without ``{video}`` is a root."""
        pattern = getattr(self, kind)
        if "{video}" not in pattern:
            pattern = str(Path(pattern) / "{video}")
        return Path(pattern.replace("{video}", video)).absolute()

    def discover_videos(self) -> list[str]:
        """Names of the videos whose frame folder exists, sorted."""
        pattern = str(self.folder("frames", "{video}"))
        prefix, _, suffix = pattern.partition("{video}")
        matcher = re.compile(re.escape(prefix) + r"([^/]+)" + re.escape(suffix) + "$")
        names = set()
        for found in glob.glob(glob.escape(prefix) + "*" + glob.escape(suffix)):
            match = matcher.match(found)
            if match and Path(found).is_dir():
                names.add(match.group(1))
        return sorted(names)

    def load_video(self, video: str, use_flow: bool) -> VideoData:
        frame_dir = self.folder("frames", video)
        frames = index_maps(frame_dir, f"frame folder of video {video!r}")
        numbers = sorted(frames)
        gt_dir = self.folder("gt", video)
        gt = index_maps(gt_dir, f"ground-truth folder of video {video!r}") if gt_dir.is_dir() else {}
        flows: tuple[Path | None, ...] = (None,) * len(numbers)
        if use_flow:
            if self.flow is None:
                raise InputError("training with flow needs the flow folders (--flow or --data); or train with --no-flow")
            flow_dir = self.folder("flow", video)
            if not flow_dir.is_dir():
                raise InputError(f"flow folder {flow_dir} of video {video!r} is missing: compute it with `sstsal flow` or use --no-flow")
            flows = tuple((flow_dir / frames[n].name) if (flow_dir / frames[n].name).is_file() else None for n in numbers)
        return VideoData(
            name=video,
            frames=tuple(frames[n] for n in numbers),
            flows=flows,
            saliency=tuple(gt.get(n) for n in numbers),
        )


def read_video_list(path: str | Path) -> list[str]:
    """Video names, one per line (blank lines and ``#`` comments ignored), as the published split files."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"split file {path} does not exist")
    names = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"split file {path} names no video")
    return names


@dataclass(frozen=True)
class TrainingSequence:
    """``length`` consecutive frames of one video starting at position ``start``."""

    video: VideoData
    start: int
    length: int


def make_sequences(videos: Sequence[VideoData], config: TrainConfig) -> tuple[list[TrainingSequence], int]:
    """Non-overlapping sequences after the skipped frames; returns (usable, dropped for missing data)."""
    usable: list[TrainingSequence] = []
    dropped = 0
    for video in videos:
        for start in range(config.skip_frames, len(video.frames) - config.sequence_length + 1, config.sequence_length):
            stop = start + config.sequence_length
            complete = all(p is not None for p in video.saliency[start:stop])
            if config.use_flow:
                complete = complete and all(p is not None for p in video.flows[start:stop])
            if complete:
                usable.append(TrainingSequence(video, start, config.sequence_length))
            else:
                dropped += 1
    return usable, dropped


def _read_colour(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode {path}: the file is unreadable, truncated or not an image")
    if image.shape[:2] != size:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return image.astype(np.float32) / 255.0


def _read_ground_truth(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"cannot decode ground-truth map {path}: unreadable, truncated or not an image")
    if image.shape[:2] != size:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    image = image.astype(np.float32)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def roll_amount(seed: int, epoch: int, index: int, width: int) -> int:
    """The augmentation's horizontal shift of sequence ``index`` in ``epoch``, reproducibly."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch) * 10_007 + int(index))
    return int(torch.randint(width, (1,), generator=generator))


class SequenceDataset(Dataset):
    """Items ``(x, y)``: ``(T, C, H, W)`` inputs (BGR frame [+ BGR flow]) and ``(T, 1, H, W)`` ground truth.

    Keys are ``(epoch, index)`` (or ``index``, epoch 0): with ``rotate`` the item is rolled by
    :func:`roll_amount`, so worker processes need no shared state.
    """

    def __init__(self, sequences: list[TrainingSequence], config: TrainConfig, rotate: bool) -> None:
        self.sequences = sequences
        self.config = config
        self.rotate = rotate

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        seq = self.sequences[index]
        size = (self.config.height, self.config.width)
        inputs, labels = [], []
        for position in range(seq.start, seq.start + seq.length):
            channels = [_read_colour(seq.video.frames[position], size)]
            if self.config.use_flow:
                channels.append(_read_colour(seq.video.flows[position], size))
            inputs.append(np.concatenate(channels, axis=2).transpose(2, 0, 1))
            labels.append(_read_ground_truth(seq.video.saliency[position], size)[None])
        x = torch.from_numpy(np.stack(inputs))
        y = torch.from_numpy(np.stack(labels))
        if self.rotate:
            shift = roll_amount(self.config.seed, epoch, index, self.config.width)
            # Published Rotate: cat(x[..., t:], x[..., :t]) == roll by -t.
            x, y = torch.roll(x, -shift, dims=-1), torch.roll(y, -shift, dims=-1)
        return x, y


# --- loss -------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _loss_weights(height: int, width: int) -> torch.Tensor:
    theta = np.linspace(0, np.pi, height + 1)
    row = (2 * np.pi / width) * (np.sin(theta[:-1]) + np.sin(theta[1:])) / 2 * (np.pi / height)
    return torch.from_numpy(np.repeat(row[:, None], width, axis=1).astype(np.float32))


def spherical_kl_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The published spherical KL loss per frame: ``(B, T, H, W)`` x2 -> ``(B, T)``.

    ``KL(gt || pred)`` after min-max and sum normalisation, each pixel weighted by its solid angle.
    """
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two (B, T, H, W) tensors of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    batch, steps, height, width = pred.shape
    p = pred.float().reshape(batch, steps, -1)
    g = gt.float().reshape(batch, steps, -1)
    p = (p - p.amin(-1, keepdim=True)) / (p.amax(-1, keepdim=True) - p.amin(-1, keepdim=True) + KL_EPS)
    g = (g - g.amin(-1, keepdim=True)) / (g.amax(-1, keepdim=True) - g.amin(-1, keepdim=True) + KL_EPS)
    p = p / (p.sum(-1, keepdim=True) + KL_EPS)
    g = g / (g.sum(-1, keepdim=True) + KL_EPS)
    weights = _loss_weights(height, width).to(pred.device).reshape(1, 1, -1)
    return (weights * g * torch.log(g / (p + KL_EPS) + KL_EPS)).sum(-1)


# --- the training loop ------------------------------------------------------------------------


@dataclass
class TrainResult:
    out_dir: Path
    config: TrainConfig
    log: list[dict[str, float]] = field(default_factory=list)
    dropped_sequences: int = 0

    @property
    def final_weights(self) -> Path:
        return self.out_dir / FINAL_WEIGHTS


def _epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    generator = torch.Generator().manual_seed(int(seed) * 7_919 + int(epoch))
    return torch.randperm(n, generator=generator).tolist()


def split_videos(train: list[str], val: list[str] | None, val_fraction: float) -> tuple[list[str], list[str]]:
    """The published split: the first ``ceil(fraction * N)`` videos validate, unless ``val`` is given."""
    if val is not None:
        overlap = sorted(set(train) & set(val))
        if overlap:
            raise InputError(f"videos {', '.join(overlap[:5])} are in both the training and the validation split")
        return train, val
    n_val = int(math.ceil(val_fraction * len(train)))
    return train[n_val:], train[:n_val]


def _build_model(config: TrainConfig, resuming: bool = False):
    from sstsal.model.checkpoint import load_model
    from sstsal.model.network import SSTSal

    channels = 6 if config.use_flow else 3
    if resuming:  # the checkpoint's weights follow; the --init file need not exist any more
        return SSTSal(input_channels=channels, hidden_channels=config.hidden_channels)
    if config.init:
        model = load_model(config.init)
        if model.input_channels != channels:
            raise InputError(
                f"--init {config.init} takes {model.input_channels} input channels but training "
                f"{'with' if config.use_flow else 'without'} flow needs {channels}: "
                f"{'add --no-flow' if config.use_flow else 'drop --no-flow'} or pick the matching checkpoint"
            )
        if config.hidden_channels not in (None, model.hidden_channels):
            raise InputError(f"--init {config.init} has hidden size {model.hidden_channels}, not {config.hidden_channels}")
        config.hidden_channels = model.hidden_channels
        return model
    if config.hidden_channels is None:
        config.hidden_channels = 36 if config.use_flow else 9
    torch.manual_seed(config.seed)  # reproducible initial weights
    return SSTSal(input_channels=channels, hidden_channels=config.hidden_channels)


def _write_log(out_dir: Path, rows: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:  # NaN (no training loss before epoch 1, no validation videos) as an empty cell
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
    write_text(out_dir / LOSS_LOG, buffer.getvalue())


def _save_checkpoint(out_dir: Path, state: dict) -> None:
    with atomic_file(out_dir / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def _evaluate(model, loader, device) -> float:
    model.eval()
    total, frames = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            loss = spherical_kl_loss(model(x.to(device))[:, :, 0], y.to(device)[:, :, 0])
            total += float(loss.sum())
            frames += loss.numel()
    return total / max(frames, 1)


def _collate(items):
    xs, ys = zip(*items)
    return torch.stack(xs), torch.stack(ys)


def _fresh_partial() -> dict:
    """Loss sum, frame count and seconds of the epoch so far."""
    return {"loss": 0.0, "frames": 0, "seconds": 0.0}


@dataclass
class _Run:
    """A training run's state between epochs: what ``checkpoint.pt`` holds, and what it trains on."""

    out_dir: Path
    config: TrainConfig
    layout: DataLayout
    train_videos: list[str]
    val_videos: list[str]
    train_seqs: list[TrainingSequence]
    val_seqs: list[TrainingSequence]
    dropped: int
    device: torch.device
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    rows: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    # Where the first epoch of this call starts: (epoch, step within it, partial loss sums).
    start_epoch: int = 0
    start_step: int = 0
    partial: dict = field(default_factory=_fresh_partial)

    def snapshot(self, epoch: int, step: int, partial_now: dict) -> dict:
        """The resumable state after ``step`` batches of ``epoch``."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            "step": step,
            "partial": dict(partial_now),
            "log": self.rows,
            "best_val": self.best_val,
            "config": asdict(self.config),
            "train_videos": self.train_videos,
            "val_videos": self.val_videos,
            "layout": asdict(self.layout),
        }


def _restore_or_start(
    layout: DataLayout | None,
    train_videos: list[str] | None,
    out_dir: Path,
    config: TrainConfig | None,
    *,
    val_videos: list[str] | None,
    resume: bool,
    device: str,
    log: Callable[[str], None],
) -> _Run:
    """The run in ``out_dir`` restored from its checkpoint (``resume``), or a new one; checks the data."""
    from sstsal.devices import resolve_device

    checkpoint_path = out_dir / CHECKPOINT
    state = None
    if checkpoint_path.exists():
        if not resume:
            raise InputError(f"{out_dir} already holds a training run: pass --resume to continue it, or choose another --out")
        try:
            state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file cannot be trusted, whatever the reason
            raise SstsalError(f"cannot read {checkpoint_path} ({exc}); delete it to start over") from exc
        saved = TrainConfig(**state["config"])
        if config is not None and config.epochs != saved.epochs:
            saved.epochs = config.epochs  # resuming may extend (or shorten) the run, nothing else
        config = saved
        train_videos, val_videos = state["train_videos"], state["val_videos"]
        layout = DataLayout(**state["layout"])
    elif resume:
        raise InputError(f"nothing to resume: {checkpoint_path} does not exist")
    config = config or TrainConfig()
    config.check()
    if state is None:
        if layout is None or not train_videos:
            raise InputError("a new training run needs the data layout and at least one training video")
        layout = layout.absolute()
        train_videos, val_videos = split_videos(list(train_videos), val_videos, config.val_fraction)
    if not train_videos:
        raise InputError("no training videos: the split leaves every video for validation; add videos or lower --val-fraction")

    data_train = [layout.load_video(v, config.use_flow) for v in train_videos]
    data_val = [layout.load_video(v, config.use_flow) for v in val_videos]
    train_seqs, dropped_train = make_sequences(data_train, config)
    val_seqs, dropped_val = make_sequences(data_val, config)
    if not train_seqs:
        raise InputError(
            f"no complete {config.sequence_length}-frame sequence with ground truth in the training videos "
            f"(after skipping {config.skip_frames} frames per video): check the ground-truth folders, or lower "
            "--sequence-length / --skip-frames"
        )
    dropped = dropped_train + dropped_val
    log(
        f"training on {len(train_seqs)} sequence(s) of {len(train_videos)} video(s), validating on {len(val_seqs)} "
        f"of {len(val_videos)}; {dropped} sequence(s) dropped for missing ground truth or flow"
    )

    torch_device = resolve_device(device)
    model = _build_model(config, resuming=state is not None).to(torch_device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    run = _Run(out_dir, config, layout, train_videos, val_videos, train_seqs, val_seqs, dropped, torch_device, model, optimizer)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        run.rows, run.best_val = state["log"], state["best_val"]
        run.start_epoch, run.start_step, run.partial = state["epoch"], state["step"], state["partial"]
        log(f"resuming {out_dir} at epoch {run.start_epoch + 1}, step {run.start_step}")
    return run


def _train_epoch(run: _Run, train_set: SequenceDataset, epoch: int, workers: int) -> tuple[dict, float]:
    """One epoch's optimiser steps (from the saved step when resuming into it); returns the epoch's
    partial loss sums and the moment this call started it."""
    config, model, optimizer = run.config, run.model, run.optimizer
    model.train()
    order = _epoch_order(config.seed, epoch, len(run.train_seqs))
    batches = [[(epoch, i) for i in order[b : b + config.batch_size]] for b in range(0, len(order), config.batch_size)]
    step = run.start_step if epoch == run.start_epoch else 0
    partial = run.partial if epoch == run.start_epoch else _fresh_partial()
    loader = DataLoader(train_set, batch_sampler=batches[step:], num_workers=workers, collate_fn=_collate)
    started = last_save = time.monotonic()
    for x, y in loader:
        optimizer.zero_grad()
        loss = spherical_kl_loss(model(x.to(run.device))[:, :, 0], y.to(run.device)[:, :, 0])
        loss.sum().backward()
        optimizer.step()
        step += 1
        partial["loss"] += float(loss.detach().sum())
        partial["frames"] += loss.numel()
        if not math.isfinite(partial["loss"]):
            raise SstsalError(f"the training loss became {partial['loss']} in epoch {epoch + 1}: lower --lr (now {config.lr})")
        if config.checkpoint_minutes > 0 and time.monotonic() - last_save > 60 * config.checkpoint_minutes:
            now = time.monotonic()
            _save_checkpoint(run.out_dir, run.snapshot(epoch, step, {**partial, "seconds": partial["seconds"] + now - started}))
            last_save = now
    return partial, started


def _end_epoch(run: _Run, epoch: int, partial: dict, started: float, val_loader: DataLoader, writer) -> dict[str, float]:
    """Validate, keep the best weights, save the checkpoint and the loss log; returns the epoch's row."""
    from sstsal.model.checkpoint import save_weights

    val_loss = _evaluate(run.model, val_loader, run.device) if run.val_seqs else math.nan
    row = {
        "epoch": epoch + 1,
        "train_loss": partial["loss"] / max(partial["frames"], 1),
        "val_loss": val_loss,
        "lr": run.config.lr,
        "train_sequences": len(run.train_seqs),
        "val_sequences": len(run.val_seqs),
        "seconds": round(partial["seconds"] + time.monotonic() - started, 3),
    }
    run.rows = run.rows + [row]
    # Best model first, then the checkpoint: a kill in between only repeats this epoch.
    judged = val_loss if run.val_seqs else row["train_loss"]
    if judged < run.best_val:
        run.best_val = judged
        save_weights(run.model, run.out_dir / BEST_WEIGHTS, metadata={"epoch": str(epoch + 1)})
    _save_checkpoint(run.out_dir, run.snapshot(epoch + 1, 0, _fresh_partial()))
    _write_log(run.out_dir, run.rows)
    if writer is not None:
        writer.add_scalars("loss", {"train": row["train_loss"], "val": val_loss}, epoch + 1)
    return row


def train(
    layout: DataLayout | None,
    train_videos: list[str] | None,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    val_videos: list[str] | None = None,
    resume: bool = False,
    device: str = "auto",
    workers: int = 0,
    tensorboard: bool = False,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> TrainResult:
    """Train (or fine-tune, or resume) SST-Sal; writes into ``out_dir``:
    ``checkpoint.pt`` (resumable state), ``losses.csv`` (one row per epoch), ``best.safetensors``
    (lowest validation loss), ``model.safetensors`` (after the last epoch), ``train_config.json``.

    On ``resume`` the run's saved data layout, video split and settings are used (``layout``,
    ``train_videos`` and ``config`` may be None); only ``config.epochs`` may change.
    """
    from sstsal.model.checkpoint import save_weights

    out_dir = Path(out_dir)
    run = _restore_or_start(
        layout, train_videos, out_dir, config, val_videos=val_videos, resume=resume, device=device, log=log
    )
    config = run.config
    out_dir.mkdir(parents=True, exist_ok=True)
    run_settings = {**asdict(config), "train_videos": run.train_videos, "val_videos": run.val_videos}
    write_text(out_dir / CONFIG, json.dumps(run_settings, indent=2) + "\n")
    _write_log(out_dir, run.rows)
    writer = _tensorboard_writer(out_dir) if tensorboard else None

    train_set = SequenceDataset(run.train_seqs, config, rotate=config.rotate)
    val_loader = DataLoader(SequenceDataset(run.val_seqs, config, rotate=False), batch_size=config.batch_size,
                            num_workers=workers, collate_fn=_collate)  # fmt: skip
    if not run.rows and run.val_seqs:
        # Row 0: the starting point (random or --init weights), so every run shows its gain.
        run.rows = [{"epoch": 0, "train_loss": math.nan, "val_loss": _evaluate(run.model, val_loader, run.device),
                     "lr": config.lr, "train_sequences": len(run.train_seqs), "val_sequences": len(run.val_seqs),
                     "seconds": 0.0}]  # fmt: skip
        _write_log(out_dir, run.rows)
        log(f"epoch 0 (before training): val {run.rows[0]['val_loss']:.5f}")

    for epoch in range(run.start_epoch, config.epochs):
        partial, started = _train_epoch(run, train_set, epoch, workers)
        row = _end_epoch(run, epoch, partial, started, val_loader, writer)
        log(f"epoch {epoch + 1}/{config.epochs}: train {row['train_loss']:.5f}, val {row['val_loss']:.5f} ({row['seconds']:.1f} s)")
        if on_epoch_end is not None:
            on_epoch_end(row)
    save_weights(run.model, out_dir / FINAL_WEIGHTS, metadata={"epoch": str(config.epochs)})
    if writer is not None:
        writer.close()
    return TrainResult(out_dir=out_dir, config=config, log=run.rows, dropped_sequences=run.dropped)


RUN_FILES = (CHECKPOINT, LOSS_LOG, BEST_WEIGHTS, FINAL_WEIGHTS, CONFIG)


def resume_or_start(
    layout: DataLayout,
    train_videos: list[str],
    out_dir: str | Path,
    config: TrainConfig,
    **options,
) -> TrainResult:
    """Continue the run in ``out_dir`` when it was started with these data and settings (the
    number of epochs may differ); otherwise start afresh, replacing that run's files.

    For the workflow, whose training job may be killed and rerun, or rerun with new settings.
    """
    out_dir = Path(out_dir)
    checkpoint = out_dir / CHECKPOINT
    if checkpoint.exists():
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception:  # damaged or foreign: not something to continue
            state = None
        wanted = {**asdict(config), "epochs": None}
        if config.hidden_channels is None and state is not None:
            wanted["hidden_channels"] = state["config"].get("hidden_channels")
        same = (
            state is not None
            and {**state["config"], "epochs": None} == wanted
            and state["layout"] == asdict(layout.absolute())
            and (state["train_videos"], state["val_videos"])
            == split_videos(list(train_videos), options.get("val_videos"), config.val_fraction)
        )
        if same:
            return train(None, None, out_dir, config, resume=True, **options)
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)
    return train(layout, train_videos, out_dir, config, **options)


def _tensorboard_writer(out_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(out_dir / "tensorboard"))


def read_loss_log(out_dir: str | Path) -> list[dict[str, float]]:
    """The ``losses.csv`` of a run as a list of rows with float values."""
    with (Path(out_dir) / LOSS_LOG).open(newline="") as handle:
        return [{k: float(v) if v else math.nan for k, v in row.items()} for row in csv.DictReader(handle)]


__all__ = [
    "DataLayout",
    "TrainConfig",
    "TrainResult",
    "read_loss_log",
    "read_video_list",
    "spherical_kl_loss",
    "split_videos",
    "train",
]
