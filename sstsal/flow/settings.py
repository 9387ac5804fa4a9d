"""The flow stage's settings as one validated object, built in one place from the CLI's
arguments, the workflow's rule params, or keyword arguments."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

from sstsal.errors import InputError
from sstsal.frame_size import MIN_FLOW_WIDTH

# The choices of each field; the CLI and the config schema's enums take theirs from here.
FLOW_METHODS = ("raft", "dis", "farneback")
METHOD_CHOICES = (*FLOW_METHODS, "auto")
Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
# torch's CPU autocast runs bf16 well; fp16 autocast is for CUDA.
CPU_PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
SeamMode = Literal["pad", "wrap"]
SEAM_MODES: tuple[str, ...] = ("pad", "wrap")
COLOR_ORDERS: tuple[str, ...] = ("rgb", "swapped")


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

    Every field is checked here, once: on construction what needs neither the frames nor the
    device, in :meth:`on` what needs the device (mixed precision); the seam margin against the
    frame width is checked when the frames are known.
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
        if self.width is not None and self.width < MIN_FLOW_WIDTH:
            raise InputError(f"flow width {self.width} is too small: use at least {MIN_FLOW_WIDTH} (RAFT needs 128)")
        if self.iters < 1:
            raise InputError(f"iters must be at least 1, not {self.iters}")
        _one_of("seam", self.seam, SEAM_MODES)
        if self.seam_margin is not None and self.seam_margin < 0:
            raise InputError(f"seam margin {self.seam_margin} must be between 0 and half the frame width")
        _one_of("precision", self.precision, PRECISIONS)
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

    def on(self, device: str) -> FlowSettings:
        """These settings for a resolved ``device`` (cpu, cuda or cuda:N, see
        :func:`sstsal.devices.resolve_device`): ``device`` set, an ``auto`` method decided (raft on
        CUDA, dis otherwise) and the precision checked against the device."""
        device = str(device)
        if device == "auto":
            raise ValueError("resolve the device first (sstsal.devices.resolve_device)")
        cuda = device.startswith("cuda")
        method = ("raft" if cuda else "dis") if self.method == "auto" else self.method
        if method == "raft" and not cuda and self.precision not in CPU_PRECISIONS:
            raise InputError(f"precision {self.precision} is for CUDA; on {device} use {' or '.join(CPU_PRECISIONS)}")
        return self.replace(device=device, method=method)

    def replace(self, **changes: Any) -> FlowSettings:
        """These settings with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)
