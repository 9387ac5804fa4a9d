"""Settings of a training run (:class:`TrainConfig`): the published recipe's values by default,
checked here only."""

from __future__ import annotations

from dataclasses import dataclass

from sstsal.errors import InputError


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
