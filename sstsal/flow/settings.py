"""The flow stage's settings as one validated object, built in one place from the CLI's
arguments, the workflow's rule params, or keyword arguments."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from sstsal.errors import InputError
from sstsal.flow.raft.engine import PRECISIONS
from sstsal.flow.raft.padding import SEAM_MODES

FLOW_METHODS = ("raft", "dis", "farneback")
COLOR_ORDERS = ("rgb", "swapped")


def _one_of(name: str, value: object, choices: tuple[str, ...] | list[str]) -> None:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


@dataclass(frozen=True)
class FlowSettings:
    """How the flow images are computed: the same ten settings for ``sstsal flow``, the workflow's
    flow rule (``flow:`` in the config) and :func:`sstsal.flow.engines.compute_flow_folder`.

    method: raft, dis, farneback or auto (raft on CUDA, dis otherwise).
    checkpoint: RAFT weights: auto, torchvision, raft-sintel or a file (see :mod:`sstsal.flow.raft`).
    width: working width (None: the frames' width; never upscaled).
    iters, seam, seam_margin, precision, batch_size: see :class:`sstsal.flow.raft.RaftFlow`.
    device: auto, cpu, cuda or cuda:N.
    color_order: rgb (true colours) or swapped.

    What can be checked without the frames or the device is checked here, once; the seam margin
    against the frame width and mixed precision against the device are checked when those are known.
    """

    method: str = "raft"
    checkpoint: str | os.PathLike = "auto"
    width: int | None = None
    iters: int = 20
    seam: str = "pad"
    seam_margin: int | None = None
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int | None = None
    color_order: str = "rgb"

    def __post_init__(self) -> None:
        if self.checkpoint is None or str(self.checkpoint) == "":
            object.__setattr__(self, "checkpoint", "auto")
        if self.device is None:
            object.__setattr__(self, "device", "auto")
        if self.method != "auto" and self.method not in FLOW_METHODS:
            raise InputError(f"flow method must be one of {', '.join(FLOW_METHODS)} or auto, not {self.method!r}")
        if self.width is not None and self.width < 16:
            raise InputError(f"flow width {self.width} is too small: use at least 16 (RAFT needs 128)")
        if self.iters < 1:
            raise InputError(f"iters must be at least 1, not {self.iters}")
        _one_of("seam", self.seam, SEAM_MODES)
        if self.seam_margin is not None and self.seam_margin < 0:
            raise InputError(f"seam margin {self.seam_margin} must be between 0 and half the frame width")
        _one_of("precision", self.precision, list(PRECISIONS))
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch size must be at least 1, not {self.batch_size}")
        _one_of("color_order", self.color_order, COLOR_ORDERS)

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> FlowSettings:
        """From ``sstsal flow``'s arguments (named after the fields)."""
        return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})

    @classmethod
    def from_params(cls, params: Any) -> FlowSettings:
        """From the flow rule's Snakemake ``params`` (named after the fields; the ones the rule does
        not set keep their defaults)."""
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: getattr(params, name) for name in names if hasattr(params, name)})

    @classmethod
    def from_options(cls, settings: FlowSettings | None = None, **options: Any) -> FlowSettings:
        """``settings``, or settings made of keyword ``options`` (the functions' earlier keyword API)."""
        if settings is None:
            return cls(**options)
        if options:
            raise TypeError(f"give FlowSettings or the options {', '.join(options)}, not both")
        return settings

    def replace(self, **changes: Any) -> FlowSettings:
        """These settings with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)
