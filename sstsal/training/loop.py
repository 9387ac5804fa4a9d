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

The run's pieces live beside this loop: :mod:`sstsal.training.config` (settings),
:mod:`sstsal.training.data` (videos, sequences, dataset), :mod:`sstsal.training.loss` (the
spherical KL loss) and :mod:`sstsal.training.state` (checkpoint, restore, loss log).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from sstsal.atomic import write_text
from sstsal.errors import InputError, SstsalError
from sstsal.training.config import TrainConfig
from sstsal.training.data import DataLayout, SequenceDataset, collate, epoch_order, split_videos
from sstsal.training.loss import spherical_kl_loss
from sstsal.training.state import (
    BEST_WEIGHTS,
    CHECKPOINT,
    CONFIG,
    FINAL_WEIGHTS,
    RUN_FILES,
    TrainingRun,
    TrainResult,
    fresh_partial,
    restore_or_start,
    save_checkpoint,
    write_loss_log,
)

logger = logging.getLogger(__name__)


def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Mean loss per frame of ``model`` over ``loader``."""
    model.eval()
    total, frames = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            loss = spherical_kl_loss(model(x.to(device))[:, :, 0], y.to(device)[:, :, 0])
            total += float(loss.sum())
            frames += loss.numel()
    return total / max(frames, 1)


def train_epoch(run: TrainingRun, train_set: SequenceDataset, epoch: int, workers: int) -> tuple[dict, float]:
    """One epoch's optimiser steps (from the saved step when resuming into it); returns the epoch's
    partial loss sums and the moment this call started it."""
    config, model, optimizer = run.config, run.model, run.optimizer
    model.train()
    order = epoch_order(config.seed, epoch, len(run.train_seqs))
    batches = [[(epoch, i) for i in order[b : b + config.batch_size]] for b in range(0, len(order), config.batch_size)]
    step = run.start_step if epoch == run.start_epoch else 0
    partial = run.partial if epoch == run.start_epoch else fresh_partial()
    loader = DataLoader(train_set, batch_sampler=batches[step:], num_workers=workers, collate_fn=collate)
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
            save_checkpoint(run.out_dir, run.snapshot(epoch, step, {**partial, "seconds": partial["seconds"] + now - started}))
            last_save = now
    return partial, started


def end_epoch(run: TrainingRun, epoch: int, partial: dict, started: float, val_loader: DataLoader, writer) -> dict[str, float]:
    """Validate, keep the best weights, save the checkpoint and the loss log; returns the epoch's row."""
    from sstsal.model.checkpoint import save_weights

    val_loss = evaluate(run.model, val_loader, run.device) if run.val_seqs else math.nan
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
    save_checkpoint(run.out_dir, run.snapshot(epoch + 1, 0, fresh_partial()))
    write_loss_log(run.out_dir, run.rows)
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
    log: Callable[[str], None] = logger.info,
) -> TrainResult:
    """Train (or fine-tune, or resume) SST-Sal; writes into ``out_dir``:
    ``checkpoint.pt`` (resumable state), ``losses.csv`` (one row per epoch), ``best.safetensors``
    (lowest validation loss), ``model.safetensors`` (after the last epoch), ``train_config.json``.

    On ``resume`` the run's saved data layout, video split and settings are used (``layout``,
    ``train_videos`` and ``config`` may be None); only ``config.epochs`` may change.
    """
    from sstsal.model.checkpoint import save_weights

    out_dir = Path(out_dir)
    run = restore_or_start(
        layout, train_videos, out_dir, config, val_videos=val_videos, resume=resume, device=device, log=log
    )
    config = run.config
    out_dir.mkdir(parents=True, exist_ok=True)
    run_settings = {**asdict(config), "train_videos": run.train_videos, "val_videos": run.val_videos}
    write_text(out_dir / CONFIG, json.dumps(run_settings, indent=2) + "\n")
    write_loss_log(out_dir, run.rows)
    writer = tensorboard_writer(out_dir) if tensorboard else None

    train_set = SequenceDataset(run.train_seqs, config, rotate=config.rotate)
    val_loader = DataLoader(SequenceDataset(run.val_seqs, config, rotate=False), batch_size=config.batch_size,
                            num_workers=workers, collate_fn=collate)  # fmt: skip
    if not run.rows and run.val_seqs:
        # Row 0: the starting point (random or --init weights), so every run shows its gain.
        run.rows = [{"epoch": 0, "train_loss": math.nan, "val_loss": evaluate(run.model, val_loader, run.device),
                     "lr": config.lr, "train_sequences": len(run.train_seqs), "val_sequences": len(run.val_seqs),
                     "seconds": 0.0}]  # fmt: skip
        write_loss_log(out_dir, run.rows)
        log(f"epoch 0 (before training): val {run.rows[0]['val_loss']:.5f}")

    for epoch in range(run.start_epoch, config.epochs):
        partial, started = train_epoch(run, train_set, epoch, workers)
        row = end_epoch(run, epoch, partial, started, val_loader, writer)
        log(f"epoch {epoch + 1}/{config.epochs}: train {row['train_loss']:.5f}, val {row['val_loss']:.5f} ({row['seconds']:.1f} s)")
        if on_epoch_end is not None:
            on_epoch_end(row)
    save_weights(run.model, out_dir / FINAL_WEIGHTS, metadata={"epoch": str(config.epochs)})
    if writer is not None:
        writer.close()
    return TrainResult(out_dir=out_dir, config=config, log=run.rows, dropped_sequences=run.dropped)


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


def tensorboard_writer(out_dir: Path):
    """A TensorBoard writer into ``out_dir/tensorboard`` (the optional tensorboard package)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(out_dir / "tensorboard"))
