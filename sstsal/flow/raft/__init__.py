"""RAFT optical flow (Teed & Deng, ECCV 2020) on torchvision's ``raft_large``: weights, padding,
memory and time planning, the correlation block, the network (a torchvision RAFT subclass with
shared encodings) and the engine for long equirectangular videos.

SST-Sal was trained on flow images computed with the published RAFT code and its
``raft-sintel.pth`` checkpoint; this package runs the same network through torchvision.
"""

from sstsal.flow.raft.correlation import SharedCorrBlock
from sstsal.flow.raft.engine import AUTOCAST_DTYPES, FlowPlan, RaftFlow, check_memory, frames_to_tensor
from sstsal.flow.raft.network import VideoRAFT, convex_upsample, coords_grid
from sstsal.flow.raft.padding import EquirectPadding, default_seam_margin, equirect_padding
from sstsal.flow.raft.planning import (
    MemoryPlan,
    available_memory,
    estimate_cpu_seconds_per_pair,
    estimate_fixed_bytes,
    estimate_pair_bytes,
    plan_memory,
)
from sstsal.flow.raft.weights import (
    CHECKPOINT_CHOICES,
    PUBLISHED_CHECKPOINT_NAME,
    PUBLISHED_CHECKPOINT_SHA256,
    PUBLISHED_MODELS_URL,
    TORCHVISION_WEIGHTS,
    RaftCheckpoint,
    RaftWeights,
    RaftWeightsFile,
    convert_published_state_dict,
    find_published_checkpoint,
    is_published_layout,
    load_raft,
    published_key_to_torchvision,
    read_state_dict,
    resolve_checkpoint,
    torchvision_weights_path,
)
from sstsal.flow.settings import PRECISIONS, SEAM_MODES, Precision, SeamMode  # the settings' choices

__all__ = [
    "AUTOCAST_DTYPES",
    "CHECKPOINT_CHOICES",
    "PRECISIONS",
    "PUBLISHED_CHECKPOINT_NAME",
    "PUBLISHED_CHECKPOINT_SHA256",
    "PUBLISHED_MODELS_URL",
    "SEAM_MODES",
    "TORCHVISION_WEIGHTS",
    "EquirectPadding",
    "FlowPlan",
    "MemoryPlan",
    "Precision",
    "RaftCheckpoint",
    "RaftFlow",
    "RaftWeights",
    "RaftWeightsFile",
    "SeamMode",
    "SharedCorrBlock",
    "VideoRAFT",
    "available_memory",
    "check_memory",
    "convert_published_state_dict",
    "convex_upsample",
    "coords_grid",
    "default_seam_margin",
    "equirect_padding",
    "estimate_cpu_seconds_per_pair",
    "estimate_fixed_bytes",
    "estimate_pair_bytes",
    "find_published_checkpoint",
    "frames_to_tensor",
    "is_published_layout",
    "load_raft",
    "plan_memory",
    "published_key_to_torchvision",
    "read_state_dict",
    "resolve_checkpoint",
    "torchvision_weights_path",
]
