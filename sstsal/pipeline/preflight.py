"""Checks the workflow makes before its first job: are the checkpoints the run needs here?

A missing checkpoint used to surface in the inference job, minutes into a run, as a failed
download. :func:`ensure_checkpoints` runs when Snakemake starts (``onstart``): it finds each
checkpoint the jobs to run need, or downloads it right then, and otherwise stops with one
message naming the file, where to put it and the alternative. Downloading at the check,
rather than probing the URL, is what proves the file can be had: a reachable server can still
fail the download, and on an offline machine both fail at once (DNS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sstsal.errors import CheckpointError
from sstsal.published import places

# A check that waits a minute for an unreachable server before saying so helps nobody.
CHECK_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class FoundCheckpoint:
    """A checkpoint the run will use: what it is for and where it is."""

    role: str
    path: Path


def ensure_sstsal_checkpoint(checkpoint: str | None, *, use_flow: bool) -> FoundCheckpoint:
    """The SST-Sal checkpoint of the run (``model.checkpoint``, else the published one)."""
    from sstsal.model.weights import checkpoint_path

    role = "SST-Sal" + (" with flow" if use_flow else " without flow")
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(
                f"model.checkpoint {path} does not exist: give the path of your .pth/.safetensors file, "
                "or set model.checkpoint: null for the published weights"
            )
        return FoundCheckpoint(role, path)
    name = "SST_Sal.pth" if use_flow else "SST_Sal_wo_OF.pth"
    try:
        return FoundCheckpoint(role, checkpoint_path(name, timeout=CHECK_TIMEOUT_S))
    except CheckpointError as exc:
        if "sha256" in str(exc) and "could not download" not in str(exc):
            raise  # a corrupt copy: its own message says which file to delete
        raise CheckpointError(
            f"the run needs {name} ({role}), which is not in the model cache and could not be downloaded. "
            f"Put it at {places(name)}: `sstsal download --from DIR` copies it from a folder that has it "
            f"(`sstsal download` when online); or set model.checkpoint to weights of your own"
        ) from None


def ensure_raft_weights(spec: str | None, *, why: str) -> FoundCheckpoint:
    """The RAFT weights ``flow.raft_checkpoint`` names, downloaded now if that is how they come."""
    from sstsal.flow.raft import (
        PUBLISHED_CHECKPOINT_NAME,
        TORCHVISION_WEIGHTS,
        resolve_checkpoint,
        torchvision_weights_path,
    )

    alternative = "or set flow.method: dis (`--config 'flow={method: dis}'`, no weights, fast on a CPU)"
    try:
        source = resolve_checkpoint(spec)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; {alternative}") from None
    if source.kind != "torchvision":
        return FoundCheckpoint(f"RAFT ({source.kind})", source.path)
    path = torchvision_weights_path()
    if not path.is_file():
        try:
            TORCHVISION_WEIGHTS.get_state_dict(progress=False, check_hash=True)
        except Exception:  # URLError, socket errors, a hash mismatch: all mean "not available"
            raise CheckpointError(
                f"{why} and needs the RAFT weights, which are not here and could not be downloaded. Put the "
                f"published {PUBLISHED_CHECKPOINT_NAME} at {places(PUBLISHED_CHECKPOINT_NAME)} or torchvision's "
                f"{path.name} at {path} (`sstsal download --from DIR` copies either from a folder), {alternative}"
            ) from None
    return FoundCheckpoint("RAFT (torchvision port of raft-sintel)", path)
