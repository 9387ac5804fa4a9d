"""RAFT weights: the published ``raft-sintel.pth`` (its key names mapped onto torchvision's)
or torchvision's port of it, ``Raft_Large_Weights.C_T_SKHT_V1``; where each is found or fetched."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor
from torchvision.models.optical_flow import Raft_Large_Weights, raft_large

from sstsal.errors import CheckpointError
from sstsal.flow.raft.correlation import SharedCorrBlock
from sstsal.flow.raft.network import VideoRAFT
from sstsal.hashing import sha256_of
from sstsal.published import CopyTarget, find_checkpoint, model_dirs, models_dir, places

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RaftWeightsFile:
    """One source of RAFT-large weights: the file's name, where it is published, and what it is."""

    file_name: str
    url: str
    # The full sha256 where known; torchvision's files carry only its first 8 hex digits in their name.
    sha256: str | None
    description: str
    # The published checkpoint ships inside a zip archive (``url``), under this member name.
    archive_member: str | None = None
    licence: str = ""


class RaftWeights(Enum):
    """RAFT-large weights, in the manner of torchvision's weights enums.

    ``RAFT_SINTEL`` is what SST-Sal's flow images were made with; ``TORCHVISION`` is torchvision's
    port of the same checkpoint, ``Raft_Large_Weights.C_T_SKHT_V1``.
    """

    RAFT_SINTEL = RaftWeightsFile(
        "raft-sintel.pth",
        "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip",
        # as recorded by a third party that ships a byte-identical copy (see third_party/RAFT/README.md);
        # a different file still loads
        "90630d2e7d488a0d3ccb5e8194524850c4c05c732ea4ff99799822c7fa5c5cbf",
        "published raft-sintel.pth",
        archive_member="models/raft-sintel.pth",
        licence="BSD-3-Clause, Copyright (c) 2020 princeton-vl (princeton-vl/RAFT's LICENSE)",
    )
    TORCHVISION = RaftWeightsFile(
        Path(urlparse(Raft_Large_Weights.C_T_SKHT_V1.url).path).name,
        Raft_Large_Weights.C_T_SKHT_V1.url,
        None,
        "torchvision Raft_Large_Weights.C_T_SKHT_V1",
        licence="BSD-3-Clause (torchvision's port of princeton-vl/RAFT's raft-sintel.pth, BSD-3-Clause)",
    )

    @property
    def file_name(self) -> str:
        return self.value.file_name


# Names kept for callers of the earlier module (re-exported by sstsal.flow.raft).
PUBLISHED_CHECKPOINT_NAME = RaftWeights.RAFT_SINTEL.file_name
PUBLISHED_CHECKPOINT_SHA256 = RaftWeights.RAFT_SINTEL.value.sha256
PUBLISHED_MODELS_URL = RaftWeights.RAFT_SINTEL.value.url
TORCHVISION_WEIGHTS = Raft_Large_Weights.C_T_SKHT_V1

CHECKPOINT_CHOICES = ("auto", "torchvision", "raft-sintel")

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


def find_published_checkpoint() -> Path | None:
    """A local ``raft-sintel.pth`` in the model folders (``SSTSAL_MODELS``, the cache), or None."""
    return find_checkpoint(RaftWeights.RAFT_SINTEL.file_name)


def torchvision_weights_path() -> Path:
    """Where torchvision keeps (or would download) ``Raft_Large_Weights.C_T_SKHT_V1``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / RaftWeights.TORCHVISION.file_name


def copy_targets() -> dict[str, CopyTarget]:
    """The RAFT weights ``sstsal download --from`` takes: the published ``raft-sintel.pth`` (to the
    model cache) and torchvision's file (to the torch hub cache, where torchvision looks)."""
    sintel = RaftWeights.RAFT_SINTEL
    hub = torchvision_weights_path()
    return {sintel.file_name: CopyTarget(models_dir() / sintel.file_name, sintel.value.sha256), hub.name: CopyTarget(hub, None)}


def _torchvision_state_dict() -> dict[str, Tensor]:
    path = torchvision_weights_path()
    if path.is_file():
        # torchvision names its files <name>-<first 8 hex digits of the sha256>.pth
        prefix = re.search(r"-([a-f0-9]+)\.", path.name)
        if prefix and not sha256_of(path).startswith(prefix.group(1)):
            raise CheckpointError(f"{path} is corrupt (its sha256 does not start with {prefix.group(1)}): delete it")
        return read_state_dict(path)
    logger.info("downloading torchvision's RAFT-large C_T_SKHT_V1 weights to %s (%s)", path, RaftWeights.TORCHVISION.value.licence)
    try:
        state = Raft_Large_Weights.C_T_SKHT_V1.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, HTTPError, socket errors, hash mismatch
        raise CheckpointError(
            f"could not download torchvision's RAFT weights ({exc}). Offline, copy "
            f"{RaftWeights.TORCHVISION.file_name} to {path}, or put the published "
            f"{RaftWeights.RAFT_SINTEL.file_name} in {model_dirs()[0]} (or pass its path with --checkpoint / "
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
        return RaftCheckpoint("torchvision", torchvision_weights_path(), RaftWeights.TORCHVISION.value.description)
    if spec in ("auto", "raft-sintel"):
        local = find_published_checkpoint()
        if local is not None:
            return RaftCheckpoint("published", local, f"{RaftWeights.RAFT_SINTEL.value.description} at {local}")
        if spec == "raft-sintel":
            raise CheckpointError(
                f"no local {RaftWeights.RAFT_SINTEL.file_name}: put it at {places(RaftWeights.RAFT_SINTEL.file_name)} (it is in the published RAFT "
                f"models.zip, {RaftWeights.RAFT_SINTEL.value.url}), pass its path, or use 'torchvision' for "
                "torchvision's port of the same weights"
            )
        return RaftCheckpoint("torchvision", torchvision_weights_path(), RaftWeights.TORCHVISION.value.description)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"RAFT checkpoint {path} does not exist: give the path of raft-sintel.pth, or one of {', '.join(CHECKPOINT_CHOICES)}"
        )
    return RaftCheckpoint("file", path, f"RAFT checkpoint {path}")


def load_raft(checkpoint: str | os.PathLike | None = "auto", *, device: str | torch.device = "cpu") -> VideoRAFT:
    """torchvision ``raft_large`` (as a :class:`VideoRAFT`) with the weights ``checkpoint`` names, in eval
    mode on ``device``."""
    source = resolve_checkpoint(checkpoint)
    if source.kind == "torchvision":
        state = _torchvision_state_dict()
    else:
        assert source.path is not None
        if source.path.name == RaftWeights.RAFT_SINTEL.file_name and sha256_of(source.path) != RaftWeights.RAFT_SINTEL.value.sha256:
            logger.warning(
                "%s differs from the published raft-sintel.pth (sha256 %s): using it anyway",
                source.path,
                RaftWeights.RAFT_SINTEL.value.sha256[:12],
            )
        state = read_state_dict(source.path)
    model = VideoRAFT.from_raft(raft_large(weights=None, progress=False, corr_block=SharedCorrBlock()))
    model.load_state_dict(state, strict=True)
    logger.info("RAFT weights: %s", source.description)
    return model.eval().to(device)
