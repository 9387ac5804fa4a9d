"""RAFT optical flow (Teed & Deng, ECCV 2020) on torchvision's ``raft_large``.

SST-Sal was trained on flow images computed with the published RAFT code and its
``raft-sintel.pth`` checkpoint. This module runs the same network through torchvision's
maintained implementation and adds what long equirectangular videos need:

* checkpoint loading: the published ``raft-sintel.pth`` (its key names mapped onto
  torchvision's) or torchvision's port of it, ``Raft_Large_Weights.C_T_SKHT_V1``;
* padding to a multiple of 8 that wraps around horizontally (the left and right edges of an
  equirectangular frame are neighbours) and an optional circular seam margin;
* :class:`RaftFlow`, which computes the flow of consecutive frame pairs with every frame
  encoded once, several pairs per batch, optional CUDA mixed precision, and a memory plan
  made before anything is allocated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.optical_flow import RAFT, Raft_Large_Weights, raft_large
from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

from sstsal.errors import CheckpointError, InputError, SstsalError

logger = logging.getLogger(__name__)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    The workflow's jobs point stderr at their log file while they run, so binding the
    stream once, as ``logging.StreamHandler`` does, would miss the log.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: D102
        pass


_package_logger = logging.getLogger("sstsal")
if not any(isinstance(h, _CurrentStderrHandler) for h in _package_logger.handlers):
    _handler = _CurrentStderrHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _package_logger.addHandler(_handler)
    if _package_logger.level == logging.NOTSET:
        _package_logger.setLevel(logging.INFO)

PUBLISHED_CHECKPOINT_NAME = "raft-sintel.pth"
# sha256 of raft-sintel.pth from the published models.zip, as recorded by a third party that
# ships a byte-identical copy (see third_party/RAFT/README.md); a different file still loads.
PUBLISHED_CHECKPOINT_SHA256 = "90630d2e7d488a0d3ccb5e8194524850c4c05c732ea4ff99799822c7fa5c5cbf"
PUBLISHED_MODELS_URL = "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip"
TORCHVISION_WEIGHTS = Raft_Large_Weights.C_T_SKHT_V1

CHECKPOINT_CHOICES = ("auto", "torchvision", "raft-sintel")
Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SeamMode = Literal["pad", "wrap"]
SEAM_MODES = ("pad", "wrap")

# The published model wraps RAFT in DataParallel and names its layers after the paper's code;
# torchvision names the same layers after its building blocks. Only names differ.
_PUBLISHED_TO_TORCHVISION: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^fnet\.", "feature_encoder."),
        (r"^cnet\.", "context_encoder."),
        (r"^(feature_encoder|context_encoder)\.conv1\.", r"\1.convnormrelu.0."),
        (r"^(feature_encoder|context_encoder)\.norm1\.", r"\1.convnormrelu.1."),
        (r"^(feature_encoder|context_encoder)\.conv2\.", r"\1.conv."),
        (r"\.(layer\d\.\d)\.conv([12])\.", r".\1.convnormrelu\2.0."),
        (r"\.(layer\d\.\d)\.norm([12])\.", r".\1.convnormrelu\2.1."),
        # norm3 is the same BatchNorm module as downsample.1, registered under two names.
        (r"\.(layer\d\.\d)\.norm3\.", r".\1.downsample.1."),
        (r"^update_block\.encoder\.convc([12])\.", r"update_block.motion_encoder.convcorr\1.0."),
        (r"^update_block\.encoder\.convf([12])\.", r"update_block.motion_encoder.convflow\1.0."),
        (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
        (r"^update_block\.gru\.conv([zrq])([12])\.", r"update_block.recurrent_block.convgru\2.conv\1."),
        (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
        (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
    )
)


# --------------------------------------------------------------------------------------------
# Checkpoints


def published_key_to_torchvision(key: str) -> str:
    """The torchvision ``raft_large`` name of one key of the published RAFT state dict."""
    if key.startswith("module."):
        key = key[len("module.") :]
    for pattern, replacement in _PUBLISHED_TO_TORCHVISION:
        key = pattern.sub(replacement, key)
    return key


def is_published_layout(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` uses the published RAFT names (``fnet``, ``cnet``, ``update_block.gru``)."""
    prefixes = ("fnet.", "cnet.", "update_block.gru.", "update_block.encoder.")
    return any(k.removeprefix("module.").startswith(prefixes) for k in state_dict)


def convert_published_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Map a published RAFT-large state dict onto torchvision's ``raft_large`` names.

    Every key must map onto a torchvision key of the same shape, every torchvision key must be
    covered, and keys registered twice in the published model must hold equal tensors;
    otherwise :class:`CheckpointError` names the offending keys.
    """
    expected = raft_large(weights=None).state_dict()
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        name = published_key_to_torchvision(key)
        if name not in expected:
            unknown.append(key)
            continue
        if tuple(value.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"checkpoint key {key!r} has shape {tuple(value.shape)}, RAFT-large expects "
                f"{tuple(expected[name].shape)} for it: this is not a RAFT-large (raft-sintel.pth) checkpoint"
            )
        if name in converted:
            if not torch.equal(converted[name], value):
                raise CheckpointError(
                    f"checkpoint keys for {name!r} disagree ({key!r} differs from its twin): the file is corrupt"
                )
            continue
        converted[name] = value
    if unknown:
        raise CheckpointError(
            f"{len(unknown)} checkpoint key(s) have no place in RAFT-large, e.g. {unknown[:3]}: "
            "this is not a RAFT-large (raft-sintel.pth) checkpoint (raft-small is not supported)"
        )
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise CheckpointError(
            f"the checkpoint lacks {len(missing)} RAFT-large weight(s), e.g. {missing[:3]}: the file is incomplete"
        )
    return converted


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """A RAFT state dict from ``path``, in either layout, as torchvision names.

    Loaded with ``weights_only=True``: a checkpoint is data, never code to run.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"RAFT checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable or unsafe files
        raise CheckpointError(f"could not read RAFT checkpoint {path}: {exc}") from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a RAFT state dict (a mapping of names to tensors)")
    if is_published_layout(state):
        return convert_published_state_dict(state)
    state = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state.items()}
    expected = raft_large(weights=None).state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise CheckpointError(
            f"{path} is neither a published RAFT-large checkpoint nor a torchvision raft_large state dict "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    return dict(state)


def _models_dirs() -> list[Path]:
    """Folders searched for a local ``raft-sintel.pth``, most specific first."""
    dirs: list[Path] = []
    if os.environ.get("SSTSAL_MODELS"):
        dirs.append(Path(os.environ["SSTSAL_MODELS"]))
    try:
        from sstsal.model.weights import models_dir  # the package's checkpoint cache

        dirs.append(Path(models_dir()))
    except (ImportError, AttributeError):
        dirs.append(Path.home() / ".cache" / "sstsal" / "models")
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def find_published_checkpoint() -> Path | None:
    """A local ``raft-sintel.pth`` in the model folders, or None."""
    for folder in _models_dirs():
        candidate = folder / PUBLISHED_CHECKPOINT_NAME
        if candidate.is_file():
            return candidate
    return None


def torchvision_weights_path() -> Path:
    """Where torchvision keeps (or would download) ``Raft_Large_Weights.C_T_SKHT_V1``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(TORCHVISION_WEIGHTS.url).path).name


def _torchvision_state_dict() -> dict[str, Tensor]:
    path = torchvision_weights_path()
    if path.is_file():
        # torchvision names its files <name>-<first 8 hex digits of the sha256>.pth
        prefix = re.search(r"-([a-f0-9]+)\.", path.name)
        if prefix and not sha256_of(path).startswith(prefix.group(1)):
            raise CheckpointError(f"{path} is corrupt (its sha256 does not start with {prefix.group(1)}): delete it")
        return read_state_dict(path)
    logger.info("downloading torchvision's RAFT-large C_T_SKHT_V1 weights to %s", path)
    try:
        state = TORCHVISION_WEIGHTS.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, HTTPError, socket errors, hash mismatch
        raise CheckpointError(
            f"could not download torchvision's RAFT weights ({exc}). Offline, copy "
            f"{Path(urlparse(TORCHVISION_WEIGHTS.url).path).name} to {path}, or put the published "
            f"{PUBLISHED_CHECKPOINT_NAME} in {_models_dirs()[0]} (or pass its path with --checkpoint / "
            "flow.raft_checkpoint); third_party/RAFT/README.md says where both come from"
        ) from exc
    return dict(state)


@dataclass(frozen=True)
class RaftCheckpoint:
    """Where RAFT weights come from: ``kind`` is 'published', 'torchvision' or 'file'."""

    kind: str
    path: Path | None
    description: str


def resolve_checkpoint(spec: str | os.PathLike | None = "auto") -> RaftCheckpoint:
    """Resolve ``flow.raft_checkpoint``: 'auto', 'torchvision', 'raft-sintel' or a file path.

    'auto' prefers a local ``raft-sintel.pth`` in the model folders and otherwise uses
    torchvision's port of the same checkpoint (from the torch hub cache, or downloaded).
    """
    spec = "auto" if spec is None or str(spec) == "" else str(spec)
    if spec == "torchvision":
        return RaftCheckpoint("torchvision", torchvision_weights_path(), "torchvision Raft_Large_Weights.C_T_SKHT_V1")
    if spec in ("auto", "raft-sintel"):
        local = find_published_checkpoint()
        if local is not None:
            return RaftCheckpoint("published", local, f"published {PUBLISHED_CHECKPOINT_NAME} at {local}")
        if spec == "raft-sintel":
            places = " or ".join(str(d / PUBLISHED_CHECKPOINT_NAME) for d in _models_dirs())
            raise CheckpointError(
                f"no local {PUBLISHED_CHECKPOINT_NAME}: put it at {places} (it is in the published RAFT "
                f"models.zip, {PUBLISHED_MODELS_URL}), pass its path, or use 'torchvision' for "
                "torchvision's port of the same weights"
            )
        return RaftCheckpoint("torchvision", torchvision_weights_path(), "torchvision Raft_Large_Weights.C_T_SKHT_V1")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"RAFT checkpoint {path} does not exist: give the path of raft-sintel.pth, or one of {', '.join(CHECKPOINT_CHOICES)}"
        )
    return RaftCheckpoint("file", path, f"RAFT checkpoint {path}")


def load_raft(checkpoint: str | os.PathLike | None = "auto", *, device: str | torch.device = "cpu") -> RAFT:
    """torchvision ``raft_large`` with the weights ``checkpoint`` names, in eval mode on ``device``."""
    source = resolve_checkpoint(checkpoint)
    if source.kind == "torchvision":
        state = _torchvision_state_dict()
    else:
        assert source.path is not None
        if source.path.name == PUBLISHED_CHECKPOINT_NAME and sha256_of(source.path) != PUBLISHED_CHECKPOINT_SHA256:
            logger.warning(
                "%s differs from the published raft-sintel.pth (sha256 %s): using it anyway",
                source.path,
                PUBLISHED_CHECKPOINT_SHA256[:12],
            )
        state = read_state_dict(source.path)
    model = raft_large(weights=None, progress=False)
    model.load_state_dict(state, strict=True)
    logger.info("RAFT weights: %s", source.description)
    return model.eval().to(device)


# --------------------------------------------------------------------------------------------
# Padding


@dataclass(frozen=True)
class EquirectPadding:
    """Padding of a (B, C, H, W) batch: ``left``/``right`` wrap around, ``top``/``bottom`` replicate.

    ``horizontal='replicate'`` pads the sides by edge replication instead, as the published
    ``InputPadder`` does; it exists to compare with the published code.
    """

    left: int
    right: int
    top: int
    bottom: int
    horizontal: Literal["wrap", "replicate"] = "wrap"

    def pad(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H + top + bottom, W + left + right)."""
        if self.left or self.right:
            mode = "circular" if self.horizontal == "wrap" else "replicate"
            images = F.pad(images, [self.left, self.right, 0, 0], mode=mode)
        if self.top or self.bottom:
            images = F.pad(images, [0, 0, self.top, self.bottom], mode="replicate")
        return images

    def unpad(self, tensor: Tensor) -> Tensor:
        """Crop the padding off the last two dimensions."""
        h, w = tensor.shape[-2:]
        return tensor[..., self.top : h - self.bottom, self.left : w - self.right]


def default_seam_margin(width: int) -> int:
    """The circular margin added on each side for ``seam='wrap'``: 1/16 of the width, a multiple of 8.

    It must exceed the largest horizontal motion across the seam; 1/16 of the frame is
    22.5 degrees of yaw per frame pair.
    """
    return max(16, int(math.ceil(width / 16 / 8)) * 8)


def equirect_padding(
    height: int,
    width: int,
    *,
    multiple: int = 8,
    seam: SeamMode = "pad",
    seam_margin: int | None = None,
    horizontal: Literal["wrap", "replicate"] = "wrap",
) -> EquirectPadding:
    """Padding that makes a ``height`` x ``width`` frame a multiple of ``multiple``.

    Split evenly (the extra pixel at the bottom/right) as the published ``InputPadder``.
    ``seam='wrap'`` adds ``seam_margin`` pixels (default :func:`default_seam_margin`) of
    wrapped-around image on both sides, so motion across the left/right seam can be matched.
    """
    if seam not in SEAM_MODES:
        raise InputError(f"seam must be one of {', '.join(SEAM_MODES)}, not {seam!r}")
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    margin = 0
    if seam == "wrap":
        margin = default_seam_margin(width) if seam_margin is None else int(seam_margin)
        if margin < 0 or margin > width // 2:
            raise InputError(f"seam margin {margin} must be between 0 and half the frame width, {width // 2}")
        if horizontal != "wrap":
            raise InputError("seam='wrap' needs horizontal wrap-around padding")
    return EquirectPadding(
        left=margin + pad_w // 2,
        right=margin + pad_w - pad_w // 2,
        top=pad_h // 2,
        bottom=pad_h - pad_h // 2,
        horizontal=horizontal,
    )


# --------------------------------------------------------------------------------------------
# Memory


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes needed to compute flow at one padded size: ``fixed + per_pair * batch_size``."""

    padded_height: int
    padded_width: int
    per_pair: int
    fixed: int
    available: int
    batch_size: int

    @property
    def correlation_bytes(self) -> int:
        """The all-pairs correlation volume of one pair (fp32), before its pyramid levels."""
        cells = (self.padded_height // 8) * (self.padded_width // 8)
        return cells * cells * 4


def estimate_pair_bytes(padded_height: int, padded_width: int) -> int:
    """Peak bytes one frame pair adds: the fp32 correlation pyramid and the update loop's tensors.

    The correlation volume has (H/8 * W/8)^2 fp32 entries (4 GiB at 2048x1024); its three
    pooled levels add a third. The correlation lookup, GRU and upsampling tensors are a few
    thousand floats per feature cell; frame encodings are counted in the fixed part.
    """
    cells = (padded_height // 8) * (padded_width // 8)
    pyramid = cells * cells * 4 * (1 + 1 / 4 + 1 / 16 + 1 / 64)
    # lookup (4 levels * 81, a few copies), motion encoder, GRU, mask (576) and its softmax
    update_loop = cells * 6000 * 4
    return int(pyramid + update_loop)


def estimate_fixed_bytes(padded_height: int, padded_width: int, encode_batch: int) -> int:
    """Bytes that do not grow with the batch: weights and the encoders' activations."""
    pixels = padded_height * padded_width
    # the encoders' largest activations: 64 channels at half resolution, a few alive at once
    encoder = encode_batch * pixels // 4 * 64 * 4 * 4
    weights = 64 << 20
    return int(encoder + weights)


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on ``device`` (CUDA: free device memory; CPU: MemAvailable)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


_MAX_VOLUME_ELEMENTS = 2**31 - 1


def plan_memory(
    padded_height: int,
    padded_width: int,
    *,
    available: int,
    batch_size: int | None = None,
    max_batch: int = 16,
    encode_batch: int = 4,
    headroom: float = 0.85,
) -> MemoryPlan:
    """Choose how many pairs to batch at this size, or refuse when even one pair cannot fit.

    ``available`` is the free memory in bytes; ``headroom`` of it is used. A given
    ``batch_size`` is checked rather than chosen.
    """
    per_pair = estimate_pair_bytes(padded_height, padded_width)
    fixed = estimate_fixed_bytes(padded_height, padded_width, encode_batch)
    usable = int(available * headroom)
    fits = (usable - fixed) // per_pair if usable > fixed else 0
    gib = 1 << 30
    # CUDA's pooling kernels index with 32-bit integers: the correlation volume of a batch
    # must stay under 2**31 elements (one pair at 2048x1024 is 2**30), whatever memory is free.
    volume = ((padded_height // 8) * (padded_width // 8)) ** 2
    if volume > _MAX_VOLUME_ELEMENTS:
        raise SstsalError(
            f"RAFT at {padded_width}x{padded_height} (padded) needs a correlation volume of {volume:,} elements per "
            f"frame pair, more than the {_MAX_VOLUME_ELEMENTS:,} PyTorch's pooling kernels can index: lower "
            "flow.width (--width) to at most 2048, or use flow.method dis"
        )
    fits = min(fits, _MAX_VOLUME_ELEMENTS // volume)
    if fits < 1:
        raise SstsalError(
            f"RAFT at {padded_width}x{padded_height} (padded) needs about {(fixed + per_pair) / gib:.1f} GiB for one "
            f"frame pair (the all-pairs correlation alone is {((padded_height // 8) * (padded_width // 8)) ** 2 * 4 / gib:.1f} GiB) "
            f"but only {available / gib:.1f} GiB is free: lower flow.width (--width), use seam 'pad', "
            "or use flow.method dis"
        )
    if batch_size is None:
        batch_size = int(max(1, min(max_batch, fits)))
    elif batch_size > fits:
        raise SstsalError(
            f"a batch of {batch_size} RAFT pairs at {padded_width}x{padded_height} needs about "
            f"{(fixed + per_pair * batch_size) / gib:.1f} GiB but only {available / gib:.1f} GiB is free: "
            f"use a batch size of at most {fits}"
        )
    return MemoryPlan(padded_height, padded_width, per_pair, fixed, available, batch_size)


# Measured with this module on a 2-core x86 machine (fp32, 20 iterations): seconds per pair
# = a * megapixels + b * megapixels^2; the square term is the all-pairs correlation.
# (0.8 s at 512x256, 5.5 s at 1024x512.)
_CPU_SECONDS_PER_MEGAPIXEL = 5.0
_CPU_SECONDS_PER_MEGAPIXEL_SQUARED = 11.0


def estimate_cpu_seconds_per_pair(padded_height: int, padded_width: int, iters: int = 20) -> float:
    """Rough CPU time of one pair: a 2-core measurement scaled to this machine's threads and load.

    Other busy processes share the cores: with a load average of L on C cores this process
    gets about C / (L + 1) of them.
    """
    mp = padded_height * padded_width / 1e6
    seconds = _CPU_SECONDS_PER_MEGAPIXEL * mp * (0.3 + 0.7 * iters / 20) + _CPU_SECONDS_PER_MEGAPIXEL_SQUARED * mp * mp
    threads = max(1, torch.get_num_threads())
    cores = os.cpu_count() or threads
    try:
        share = min(1.0, cores / (os.getloadavg()[0] + 1))
    except OSError:
        share = 1.0
    return seconds * 2 / min(threads, cores) / share


# --------------------------------------------------------------------------------------------
# The flow engine


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto' (or None) is CUDA when available, else CPU; anything else as torch names it."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for but CUDA is not available here: use --device cpu or auto")
    return resolved


def frames_to_tensor(frames: Iterable[np.ndarray]) -> Tensor:
    """uint8 RGB frames (H, W, 3) -> float (N, 3, H, W) with values 0..255."""
    return torch.stack([torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1) for f in frames]).float()


class RaftFlow:
    """Flow of consecutive frame pairs (t -> t+1) with RAFT, every frame encoded once.

    Frame t is the second image of pair t-1 and the first of pair t: its feature encoding is
    computed once and used by both pairs, its context encoding once for pair t. Several pairs
    share one batch; the correlation pyramid is freed after each batch. Only the last
    iteration's flow is upsampled. The flow equals torchvision's pair-by-pair
    ``model(image1, image2, num_flow_updates=iters)[-1]``.

    Args:
        model: torchvision ``raft_large`` with weights (see :func:`load_raft`).
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
        if iters < 1:
            raise InputError(f"iters must be at least 1, not {iters}")
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if precision != "fp32" and self.device.type != "cuda":
            raise InputError(f"precision {precision} is for CUDA; on {self.device.type} use fp32")
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch size must be at least 1, not {batch_size}")
        if seam not in SEAM_MODES:
            raise InputError(f"seam must be one of {', '.join(SEAM_MODES)}, not {seam!r}")
        self.model = model.eval().to(self.device)
        self.iters = iters
        self.precision = precision
        self.seam = seam
        self.seam_margin = seam_margin
        self.horizontal = horizontal
        self.batch_size = batch_size
        self.memory_budget = memory_budget
        self.encode_batch = max(1, encode_batch)
        self.frames_encoded = 0  # feature encodings computed, for tests and logs
        self.plan: MemoryPlan | None = None
        self.padding: EquirectPadding | None = None

    # -- planning -----------------------------------------------------------------------------

    def prepare(self, height: int, width: int, *, num_pairs: int | None = None) -> MemoryPlan:
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
            ph, pw, available=available, batch_size=self.batch_size, encode_batch=self.encode_batch
        )
        if self.device.type == "cpu" and self.batch_size is None:
            # batching buys nothing on CPU and costs memory
            plan = dataclasses.replace(plan, batch_size=1)
        self.padding, self.plan = padding, plan
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
            total = f", about {_duration(per_pair * num_pairs)} for {num_pairs} pairs" if num_pairs else ""
            logger.warning(
                "RAFT runs on CPU: this is slow, about %.2g s per frame pair at %dx%d%s. "
                "For a quick run use flow.method: dis (--method dis), a smaller flow.width, or a CUDA GPU.",
                per_pair,
                pw,
                ph,
                total,
            )
        return plan

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

    def _autocast(self):
        if self.precision == "fp32":
            return torch.autocast(device_type=self.device.type, enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=PRECISIONS[self.precision])

    def _prepare_images(self, frames: list[np.ndarray]) -> Tensor:
        assert self.padding is not None
        images = frames_to_tensor(frames).to(self.device, non_blocking=True)
        images = self.padding.pad(images)
        return 2 * (images / 255.0) - 1.0  # the published normalisation, in its order

    def _encode(self, encoder: torch.nn.Module, images: Tensor) -> Tensor:
        with self._autocast():
            parts = [encoder(images[i : i + self.encode_batch]) for i in range(0, images.shape[0], self.encode_batch)]
        return torch.cat(parts, dim=0)

    def _build_pyramid(self, fmap1: Tensor, fmap2: Tensor) -> list[Tensor]:
        """torchvision's correlation pyramid, dividing in place to avoid a second full-size volume."""
        batch, channels, h, w = fmap1.shape
        corr = torch.matmul(fmap1.reshape(batch, channels, h * w).transpose(1, 2), fmap2.reshape(batch, channels, h * w))
        corr.div_(torch.sqrt(torch.tensor(channels)))
        volume = corr.view(batch * h * w, 1, h, w)
        pyramid = [volume]
        for _ in range(self.model.corr_block.num_levels - 1):
            volume = F.avg_pool2d(volume, kernel_size=2, stride=2)
            pyramid.append(volume)
        return pyramid

    def _flow_batch(self, images: Tensor, fmaps: Tensor) -> Tensor:
        """Flow of pairs (i, i+1) for i < len(images) - 1: (B, 2, H, W) at the padded size."""
        model = self.model
        pairs = fmaps.shape[0] - 1
        context_out = self._encode(model.context_encoder, images[:pairs])
        hidden_size = model.update_block.hidden_state_size
        with self._autocast():
            hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
            hidden = torch.tanh(hidden)
            context = F.relu(context)
        fmaps = fmaps.float()
        corr_block = model.corr_block
        corr_block.corr_pyramid = self._build_pyramid(fmaps[:pairs], fmaps[1:])
        try:
            h, w = fmaps.shape[-2:]
            coords0 = make_coords_grid(pairs, h, w, device=str(self.device))
            coords1 = coords0.clone()
            for _ in range(self.iters):
                corr_features = corr_block.index_pyramid(centroids_coords=coords1)
                flow = coords1 - coords0
                with self._autocast():
                    hidden, delta_flow = model.update_block(hidden, context, corr_features, flow)
                coords1 = coords1 + delta_flow.float()
            with self._autocast():
                up_mask = model.mask_predictor(hidden)
            return upsample_flow(flow=coords1 - coords0, up_mask=up_mask.float())
        finally:
            # torchvision keeps the pyramid on the module after forward; at 2048x1024 that is
            # gigabytes per pair held until the next batch replaces it.
            corr_block.corr_pyramid = [torch.tensor(0)]

    @torch.inference_mode()
    def pairs(self, frames: Iterable[np.ndarray], *, num_frames: int | None = None) -> Iterator[np.ndarray]:
        """Flow of each consecutive pair of ``frames`` (uint8 RGB, (H, W, 3), one size).

        Yields float32 (H, W, 2) arrays (x then y displacement, in pixels), one per pair, in
        order; ``num_frames`` only improves the time estimate in the log.
        """
        iterator = iter(frames)
        carried_image: Tensor | None = None
        carried_fmap: Tensor | None = None
        size: tuple[int, ...] | None = None
        started = time.perf_counter()
        done = 0
        while True:
            new: list[np.ndarray] = []
            want = None
            for frame in iterator:
                if size is None:
                    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                        raise InputError(f"frames must be uint8 RGB arrays (H, W, 3), got {frame.dtype} {frame.shape}")
                    size = frame.shape
                    pairs_total = None if num_frames is None else max(0, num_frames - 1)
                    self.prepare(size[0], size[1], num_pairs=pairs_total)
                elif frame.shape != size:
                    raise InputError(f"all frames must have one size: {frame.shape[:2]} after {size[:2]}")
                new.append(frame)
                assert self.plan is not None
                want = self.plan.batch_size + (0 if carried_image is not None else 1)
                if len(new) >= want:
                    break
            if not new:
                break
            with self._numerics():
                images = self._prepare_images(new)
                fmaps = self._encode(self.model.feature_encoder, images)
                self.frames_encoded += images.shape[0]
                if carried_image is not None:
                    images = torch.cat([carried_image, images])
                    fmaps = torch.cat([carried_fmap, fmaps])
                flows = self._flow_batch_fitting(images, fmaps) if images.shape[0] >= 2 else None
            if flows is not None:
                assert self.padding is not None
                flows = self.padding.unpad(flows).permute(0, 2, 3, 1).float().cpu().numpy()
                for flow in flows:
                    yield np.ascontiguousarray(flow, dtype=np.float32)
                done += flows.shape[0]
                if done == flows.shape[0] and self.device.type == "cpu" and num_frames and num_frames > 2:
                    per_pair = (time.perf_counter() - started) / done
                    logger.info(
                        "first pair took %.1f s: about %s left for %d pairs", per_pair,
                        _duration(per_pair * (num_frames - 1 - done)), num_frames - 1 - done,
                    )
            carried_image, carried_fmap = images[-1:], fmaps[-1:]
            if want is None or len(new) < want:
                break
        if done:
            seconds = time.perf_counter() - started
            logger.info("RAFT: %d pairs in %s (%.2f pairs/s)", done, _duration(seconds), done / seconds)

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
                assert self.plan is not None
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                if step == 1:
                    raise SstsalError(
                        f"out of {self.device} memory for a single RAFT pair at {self.plan.padded_width}x"
                        f"{self.plan.padded_height} ({exc.__class__.__name__}): lower flow.width (--width), free the "
                        "GPU, or use flow.method dis"
                    ) from None
                step = max(1, step // 2)
                self.plan = dataclasses.replace(self.plan, batch_size=step)
                logger.warning("out of %s memory: continuing with %d pair(s) per batch", self.device, step)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.2g} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
