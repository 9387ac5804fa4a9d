"""The RAFT flow engine: consecutive frame pairs of one video, every frame encoded once,
several pairs per batch, optional CUDA mixed precision, a memory plan made before allocating."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torchvision.models.optical_flow import RAFT

from sstsal.devices import resolve_device
from sstsal.errors import InputError, SstsalError
from sstsal.flow.raft.network import VideoRAFT
from sstsal.flow.raft.padding import EquirectPadding, equirect_padding
from sstsal.flow.raft.planning import (
    MemoryPlan,
    available_memory,
    duration_text,
    estimate_cpu_seconds_per_pair,
    plan_memory,
)
from sstsal.flow.settings import FlowSettings, Precision, SeamMode

logger = logging.getLogger(__name__)

# The autocast dtype of each mixed precision (the settings hold the names, torch the dtypes).
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclasses.dataclass(frozen=True)
class FlowPlan:
    """What :meth:`RaftFlow.prepare` fixed for one frame size: the padding and the memory plan."""

    padding: EquirectPadding
    memory: MemoryPlan

    @property
    def batch_size(self) -> int:
        """Frame pairs per batch."""
        return self.memory.batch_size

    def with_batch_size(self, batch_size: int) -> FlowPlan:
        """This plan with fewer pairs per batch (after CUDA ran out of memory)."""
        return dataclasses.replace(self, memory=dataclasses.replace(self.memory, batch_size=batch_size))


def frames_to_tensor(frames: Iterable[np.ndarray]) -> Tensor:
    """uint8 RGB frames (H, W, 3) -> float (N, 3, H, W) with values 0..255."""
    return torch.stack([torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1) for f in frames]).float()


def check_memory(
    height: int,
    width: int,
    *,
    device: str | torch.device | None = "auto",
    precision: str = "fp32",
    seam: str = "pad",
    seam_margin: int | None = None,
    horizontal: str = "wrap",
    batch_size: int | None = None,
) -> MemoryPlan:
    """The memory plan of ``height`` x ``width`` frames on ``device``, without loading anything.

    Raises :class:`SstsalError` with what one pair needs and what to lower when it cannot fit:
    callers run it before any work, so a small GPU stops a job at once, not after minutes.
    """
    torch_device = resolve_device(device)
    padding = equirect_padding(height, width, seam=seam, seam_margin=seam_margin, horizontal=horizontal)  # type: ignore[arg-type]
    padded_height, padded_width = height + padding.top + padding.bottom, width + padding.left + padding.right
    return plan_memory(
        padded_height, padded_width, available=available_memory(torch_device), batch_size=batch_size,
        precision=precision, device=str(torch_device),
    )  # fmt: skip


class RaftFlow:
    """Flow of consecutive frame pairs (t -> t+1) with RAFT, every frame encoded once.

    The network steps are :class:`~sstsal.flow.raft.network.VideoRAFT`'s (each frame's features
    encoded once, shared by the two pairs it is in); this engine pads and batches the frames,
    carries the last frame's features to the next batch, plans memory and halves the batch when
    CUDA runs out of it. The flow equals torchvision's pair-by-pair
    ``model(image1, image2, num_flow_updates=iters)[-1]``.

    Args:
        model: torchvision ``raft_large`` with weights (see :func:`load_raft`); a plain torchvision RAFT
            is wrapped in a :class:`VideoRAFT` sharing its modules.
        device: where to run; the model is moved there.
        iters: GRU iterations (the published demo uses 20).
        precision: 'fp32', or 'bf16'/'fp16' autocast for the encoders and the update block
            (CUDA only). The correlation stays fp32, as in the published mixed-precision code.
        seam: 'pad' (pad to a multiple of 8, wrapping around horizontally) or 'wrap' (also a
            circular margin of ``seam_margin`` pixels on both sides, cropped after).
        horizontal: 'wrap', or 'replicate' to pad the sides as the published code does.
        batch_size: pairs per batch; None picks the largest that fits (see :func:`plan_memory`).
        memory_budget: bytes available; None asks the device.
    """

    def __init__(
        self,
        model: RAFT,
        *,
        device: str | torch.device = "cpu",
        iters: int = 20,
        precision: Precision = "fp32",
        seam: SeamMode = "pad",
        seam_margin: int | None = None,
        horizontal: Literal["wrap", "replicate"] = "wrap",
        batch_size: int | None = None,
        memory_budget: int | None = None,
        encode_batch: int = 4,
    ) -> None:
        self.device = torch.device(device)
        # the settings object is where these are checked (mixed precision against the device too)
        FlowSettings(
            method="raft", iters=iters, precision=precision, seam=seam, seam_margin=seam_margin, batch_size=batch_size
        ).on(self.device.type)
        # the same modules as ``model``, with the shared-encoding steps as methods (see network.py)
        self.model = VideoRAFT.from_raft(model).eval().to(self.device)
        self.iters = iters
        self.precision = precision
        self.seam = seam
        self.seam_margin = seam_margin
        self.horizontal = horizontal
        self.batch_size = batch_size
        self.memory_budget = memory_budget
        self.encode_batch = max(1, encode_batch)
        self.frames_encoded = 0  # feature encodings computed, for tests and logs
        self.plan: FlowPlan | None = None  # set by prepare(), for logs and benchmarks

    @classmethod
    def from_settings(cls, model: RAFT, settings: FlowSettings, *, device: str | torch.device) -> RaftFlow:
        """The engine for the RAFT part of the flow stage's :class:`~sstsal.flow.settings.FlowSettings`
        (``device``: the settings' device, resolved)."""
        return cls(
            model,
            device=device,
            iters=settings.iters,
            precision=settings.precision,  # type: ignore[arg-type]
            seam=settings.seam,  # type: ignore[arg-type]
            seam_margin=settings.seam_margin,
            batch_size=settings.batch_size,
        )

    # -- planning -----------------------------------------------------------------------------

    def prepare(self, height: int, width: int, *, num_pairs: int | None = None) -> FlowPlan:
        """Fix the padding and batch size for ``height`` x ``width`` frames; log CPU warnings.

        Raises :class:`SstsalError` before allocating anything when one pair cannot fit.
        """
        padding = equirect_padding(
            height, width, seam=self.seam, seam_margin=self.seam_margin, horizontal=self.horizontal
        )
        ph, pw = height + padding.top + padding.bottom, width + padding.left + padding.right
        # the correlation pyramid pools the 1/8 feature map three times: it must stay >= 2 cells
        if ph < 128 or pw < 128:
            raise InputError(
                f"RAFT needs frames of at least 128x128 pixels (padded); got {width}x{height}: raise --width"
            )
        available = self.memory_budget if self.memory_budget is not None else available_memory(self.device)
        plan = plan_memory(
            ph, pw, available=available, batch_size=self.batch_size, encode_batch=self.encode_batch,
            precision=self.precision, device=str(self.device),
        )  # fmt: skip
        # a short memory may have lowered how many frames the encoders take at once
        self.encode_batch = plan.encode_batch
        if self.device.type == "cpu" and self.batch_size is None:
            # batching buys nothing on CPU and costs memory
            plan = dataclasses.replace(plan, batch_size=1)
        self.plan = FlowPlan(padding, plan)
        logger.info(
            "RAFT on %s: %dx%d frames padded to %dx%d (seam %s), %d pair(s) per batch, %d iterations, %s; "
            "about %.1f GiB per pair",
            self.device,
            width,
            height,
            pw,
            ph,
            self.seam,
            plan.batch_size,
            self.iters,
            self.precision,
            plan.per_pair / (1 << 30),
        )
        if self.device.type == "cpu":
            per_pair = estimate_cpu_seconds_per_pair(ph, pw, self.iters)
            total = f", about {duration_text(per_pair * num_pairs)} for {num_pairs} pairs" if num_pairs else ""
            logger.warning(
                "RAFT runs on CPU: this is slow, about %.2g s per frame pair at %dx%d%s. "
                "For a quick run use flow.method: dis (--method dis), a smaller flow.width, or a CUDA GPU.",
                per_pair,
                pw,
                ph,
                total,
            )
        return self.plan

    # -- stages -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _numerics(self) -> Iterator[None]:
        """fp32 means fp32: no TF32 in CUDA convolutions and matmuls (cuDNN allows it by default),
        so the flow matches the published code's; restored after each batch."""
        if self.device.type != "cuda" or self.precision != "fp32":
            yield
            return
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved

    @property
    def _amp_dtype(self) -> torch.dtype | None:
        return AUTOCAST_DTYPES.get(self.precision)

    def _prepare_images(self, frames: list[np.ndarray], padding: EquirectPadding) -> Tensor:
        images = frames_to_tensor(frames).to(self.device, non_blocking=True)
        images = padding.pad(images)
        return 2 * (images / 255.0) - 1.0  # the published normalisation, in its order

    def _flow_batch(self, images: Tensor, fmaps: Tensor) -> Tensor:
        """Flow of pairs (i, i+1) for i < len(images) - 1: (B, 2, H, W) at the padded size."""
        return self.model.consecutive_flow(
            images, fmaps, num_flow_updates=self.iters, chunk=self.encode_batch, amp_dtype=self._amp_dtype
        )

    def _batches(self, frames: Iterable[np.ndarray], num_frames: int | None) -> Iterator[tuple[FlowPlan, list[np.ndarray]]]:
        """The frames in groups of ``batch_size`` new frames (one more for the first group, which has
        no frame carried over), each with the plan made on the first frame; checks every frame."""
        plan: FlowPlan | None = None
        size: tuple[int, ...] | None = None
        group: list[np.ndarray] = []
        for frame in frames:
            if plan is None:
                if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                    raise InputError(f"frames must be uint8 RGB arrays (H, W, 3), got {frame.dtype} {frame.shape}")
                size = frame.shape
                plan = self.prepare(size[0], size[1], num_pairs=None if num_frames is None else max(0, num_frames - 1))
                first = True
            elif frame.shape != size:
                raise InputError(f"all frames must have one size: {frame.shape[:2]} after {size[:2]}")
            group.append(frame)
            if len(group) >= self.plan.batch_size + (1 if first else 0):  # self.plan: halved after OOM
                yield self.plan, group
                group, first = [], False
        if group:
            yield self.plan, group

    def _step(
        self, plan: FlowPlan, new: list[np.ndarray], carried: tuple[Tensor, Tensor] | None
    ) -> tuple[np.ndarray | None, tuple[Tensor, Tensor]]:
        """Flow of one batch: the pairs of ``new`` frames after the ``carried`` (image, features) of
        the previous batch's last frame. Returns (flows (N, H, W, 2) or None, the new carry)."""
        with self._numerics():
            images = self._prepare_images(new, plan.padding)
            fmaps = self.model.encode_features(images, chunk=self.encode_batch, amp_dtype=self._amp_dtype)
            self.frames_encoded += images.shape[0]
            if carried is not None:
                images = torch.cat([carried[0], images])
                fmaps = torch.cat([carried[1], fmaps])
            flows = self._flow_batch_fitting(images, fmaps) if images.shape[0] >= 2 else None
        if flows is not None:
            flows = plan.padding.unpad(flows).permute(0, 2, 3, 1).float().cpu().numpy()
        return flows, (images[-1:], fmaps[-1:])

    @torch.inference_mode()
    def pairs(self, frames: Iterable[np.ndarray], *, num_frames: int | None = None) -> Iterator[np.ndarray]:
        """Flow of each consecutive pair of ``frames`` (uint8 RGB, (H, W, 3), one size).

        Yields float32 (H, W, 2) arrays (x then y displacement, in pixels), one per pair, in
        order; ``num_frames`` only improves the time estimate in the log.
        """
        carried: tuple[Tensor, Tensor] | None = None
        started = time.perf_counter()
        done = 0
        for plan, new in self._batches(frames, num_frames):
            flows, carried = self._step(plan, new, carried)
            if flows is None:
                continue
            for flow in flows:
                yield np.ascontiguousarray(flow, dtype=np.float32)
            done += flows.shape[0]
            if done == flows.shape[0] and self.device.type == "cpu" and num_frames and num_frames > 2:
                per_pair = (time.perf_counter() - started) / done
                logger.info(
                    "first pair took %.1f s: about %s left for %d pairs", per_pair,
                    duration_text(per_pair * (num_frames - 1 - done)), num_frames - 1 - done,
                )
        if done:
            seconds = time.perf_counter() - started
            logger.info("RAFT: %d pairs in %s (%.2f pairs/s)", done, duration_text(seconds), done / seconds)

    def _flow_batch_fitting(self, images: Tensor, fmaps: Tensor) -> Tensor:
        """:meth:`_flow_batch`, halving the batch when CUDA runs out of memory after all.

        The memory plan is an estimate; other processes on the GPU can take memory after it
        was made. A single pair that does not fit ends the run with a clear message.
        """
        pairs = images.shape[0] - 1
        step = pairs
        while True:
            try:
                parts = [
                    self._flow_batch(images[i : i + step + 1], fmaps[i : i + step + 1]) for i in range(0, pairs, step)
                ]
                return torch.cat(parts) if len(parts) > 1 else parts[0]
            except torch.OutOfMemoryError as exc:
                plan = self.plan
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                if step == 1:
                    raise SstsalError(
                        f"out of {self.device} memory for a single RAFT pair at {plan.memory.padded_width}x"
                        f"{plan.memory.padded_height} ({exc.__class__.__name__}): lower flow.width (--width), free the "
                        "GPU, or use flow.method dis"
                    ) from None
                step = max(1, step // 2)
                self.plan = plan.with_batch_size(step)
                logger.warning("out of %s memory: continuing with %d pair(s) per batch", self.device, step)
