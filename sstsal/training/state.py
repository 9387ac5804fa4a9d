"""A training run's state and files: what ``checkpoint.pt`` holds, how a run is restored from it
or started, and the loss log. Every file is written atomically, so a kill leaves the last state."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from sstsal.atomic import atomic_file, write_text
from sstsal.devices import resolve_device
from sstsal.errors import InputError, SstsalError
from sstsal.training.config import TrainConfig
from sstsal.training.data import DataLayout, TrainingSequence, make_sequences, split_videos

CHECKPOINT = "checkpoint.pt"
FINAL_WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
LOSS_LOG = "losses.csv"
CONFIG = "train_config.json"
RUN_FILES = (CHECKPOINT, LOSS_LOG, BEST_WEIGHTS, FINAL_WEIGHTS, CONFIG)
LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "train_sequences", "val_sequences", "seconds")


@dataclass
class TrainResult:
    """What a finished :func:`~sstsal.training.loop.train` call leaves: its folder, settings and loss log."""

    out_dir: Path
    config: TrainConfig
    log: list[dict[str, float]] = field(default_factory=list)
    dropped_sequences: int = 0

    @property
    def final_weights(self) -> Path:
        return self.out_dir / FINAL_WEIGHTS


def build_model(config: TrainConfig, resuming: bool = False) -> torch.nn.Module:
    """A new SST-Sal for ``config`` (seeded), the ``--init`` model, or an empty one for a checkpoint to fill."""
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


def write_loss_log(out_dir: Path, rows: list[dict[str, float]]) -> None:
    """Write ``losses.csv`` (one row per epoch) atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:  # NaN (no training loss before epoch 1, no validation videos) as an empty cell
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
    write_text(out_dir / LOSS_LOG, buffer.getvalue())


def save_checkpoint(out_dir: Path, state: dict) -> None:
    """Write ``checkpoint.pt`` atomically."""
    with atomic_file(out_dir / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def fresh_partial() -> dict:
    """Loss sum, frame count and seconds of the epoch so far."""
    return {"loss": 0.0, "frames": 0, "seconds": 0.0}


@dataclass
class TrainingRun:
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
    partial: dict = field(default_factory=fresh_partial)

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


def restore_or_start(
    layout: DataLayout | None,
    train_videos: list[str] | None,
    out_dir: Path,
    config: TrainConfig | None,
    *,
    val_videos: list[str] | None,
    resume: bool,
    device: str,
    log: Callable[[str], None],
) -> TrainingRun:
    """The run in ``out_dir`` restored from its checkpoint (``resume``), or a new one; checks the data."""

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
    model = build_model(config, resuming=state is not None).to(torch_device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    run = TrainingRun(out_dir, config, layout, train_videos, val_videos, train_seqs, val_seqs, dropped, torch_device, model, optimizer)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        run.rows, run.best_val = state["log"], state["best_val"]
        run.start_epoch, run.start_step, run.partial = state["epoch"], state["step"], state["partial"]
        log(f"resuming {out_dir} at epoch {run.start_epoch + 1}, step {run.start_step}")
    return run


def read_loss_log(out_dir: str | Path) -> list[dict[str, float]]:
    """The ``losses.csv`` of a run as a list of rows with float values."""
    with (Path(out_dir) / LOSS_LOG).open(newline="") as handle:
        return [{k: float(v) if v else math.nan for k, v in row.items()} for row in csv.DictReader(handle)]
