"""The inference stage's settings as one validated object, built in one place from the CLI's
arguments, the workflow's rule params, or keyword arguments."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sstsal.errors import InputError


@dataclass(frozen=True)
class InferenceSettings:
    """How SST-Sal predicts: the same settings for ``sstsal predict``, the workflow's inference rule
    (``model:`` in the config) and :func:`sstsal.model.predictor.predict_folder`.

    checkpoint: an SST-Sal ``.pth`` or ``.safetensors``; None: the published one for ``no_flow``.
    no_flow: the model on frames only (no optical flow images).
    device: auto, cpu, cuda or cuda:N.
    batch_size: windows per batch (None: 2 on CPU, 16 on CUDA).
    """

    checkpoint: str | os.PathLike | None = None
    no_flow: bool = False
    device: str = "auto"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is not None and str(self.checkpoint) == "":
            object.__setattr__(self, "checkpoint", None)
        if self.device is None:
            object.__setattr__(self, "device", "auto")
        object.__setattr__(self, "no_flow", bool(self.no_flow))
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {self.batch_size}")

    @property
    def uses_flow(self) -> bool:
        return not self.no_flow

    def checkpoint_file(self) -> Path:
        """The checkpoint to load: the given one, or the published one (looked up or downloaded)."""
        if self.checkpoint is not None:
            return Path(self.checkpoint)
        from sstsal.model.weights import SstSalWeights, checkpoint_path

        return checkpoint_path(SstSalWeights.for_flow(self.uses_flow))

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> InferenceSettings:
        """From ``sstsal predict``'s arguments (named after the fields)."""
        return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})

    @classmethod
    def from_params(cls, params: Any) -> InferenceSettings:
        """From the inference rule's Snakemake ``params`` (named after the fields)."""
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: getattr(params, name) for name in names if hasattr(params, name)})

    def replace(self, **changes: Any) -> InferenceSettings:
        """These settings with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_options(cls, settings: InferenceSettings | None = None, **options: Any) -> InferenceSettings:
        """``settings``, or settings made of keyword ``options`` (the functions' earlier keyword API)."""
        if settings is None:
            return cls(**options)
        if options:
            raise TypeError(f"give InferenceSettings or the options {', '.join(options)}, not both")
        return settings
