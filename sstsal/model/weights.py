"""Provisioning of the published checkpoints: local folders first, then a checksummed download.

Order of look-up for a checkpoint file:
1. the folder named by ``SSTSAL_MODELS`` (e.g. a shared copy on an offline cluster);
2. the cache folder :func:`models_dir` (``$SSTSAL_CACHE`` or ``~/.cache/sstsal/models``);
3. a download from the pinned URL into the cache, verified against its sha256.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from sstsal.errors import CheckpointError
from sstsal.published import (  # noqa: F401  (fetch_file, models_dir: names kept for callers)
    CopyTarget,
    PublishedFile,
    copy_verified,
    fetch,
    fetch_file,
    find_checkpoint,
    github_raw,
    models_dir,
)

# Upstream commit dc6a4ba of github.com/edurnebernal/SST-Sal (the repository has no licence
# file, so the weights are fetched at run time, never shipped). GitHub paths: the base URL is
# SSTSAL_UPSTREAM (see sstsal.published).
SSTSAL_REPO = "edurnebernal/SST-Sal"
SSTSAL_COMMIT = "dc6a4bae83d5ccd1f305754ffc0a97e3ff5ebbbf"
SSTSAL_LICENCE = "edurnebernal/SST-Sal has no licence file: fetched for use at run time, never redistributed"


def _sstsal_url(name: str) -> str:
    return github_raw(SSTSAL_REPO, SSTSAL_COMMIT, f"models/{name}")


class SstSalWeights(Enum):
    """The published SST-Sal checkpoints, in the manner of torchvision's weights enums.

    ``SstSalWeights.DEFAULT`` is the model with optical flow, as published.
    """

    SST_SAL = PublishedFile(
        "SST_Sal.pth",
        _sstsal_url("SST_Sal.pth"),
        "f1a50c86195a368520ce61581eb66e261fbea888ee554b9e09e3d8fe56d79d54",
        227039,
        {"uses_flow": True, "input_channels": 6, "description": "SST-Sal on frames and RAFT flow images"},
        licence=SSTSAL_LICENCE,
    )
    SST_SAL_WO_OF = PublishedFile(
        "SST_Sal_wo_OF.pth",
        _sstsal_url("SST_Sal_wo_OF.pth"),
        "e3f6043cbb190c42fe9655e2dcc9853bd841c7ca40bf533370737c465a15a25b",
        20575,
        {"uses_flow": False, "input_channels": 3, "description": "SST-Sal on frames only (no optical flow)"},
        licence=SSTSAL_LICENCE,
    )
    DEFAULT = SST_SAL

    @property
    def file_name(self) -> str:
        return self.value.name

    @property
    def uses_flow(self) -> bool:
        return bool(self.value.meta["uses_flow"])

    @classmethod
    def for_flow(cls, uses_flow: bool) -> SstSalWeights:
        """The published checkpoint for inputs with (``True``) or without optical flow."""
        return cls.SST_SAL if uses_flow else cls.SST_SAL_WO_OF

    @classmethod
    def from_name(cls, name: str) -> SstSalWeights:
        """The member whose file is ``name`` (e.g. ``SST_Sal.pth``)."""
        for member in cls:
            if member.file_name == name:
                return member
        raise CheckpointError(f"unknown checkpoint {name!r}: known are {', '.join(m.file_name for m in cls)}")


# The registry by file name: the look-up below goes through it (tests point an entry elsewhere).
CHECKPOINTS: dict[str, PublishedFile] = {member.file_name: member.value for member in SstSalWeights}


def checkpoint_path(name: str | SstSalWeights = SstSalWeights.DEFAULT, *, download: bool = True, timeout: float = 60.0) -> Path:
    """Path of a published checkpoint (a file name or a :class:`SstSalWeights`), from SSTSAL_MODELS,
    the cache, or a download."""
    if isinstance(name, SstSalWeights):
        name = name.file_name
    if name not in CHECKPOINTS:
        raise CheckpointError(f"unknown checkpoint {name!r}: known are {', '.join(CHECKPOINTS)}")
    spec = CHECKPOINTS[name]
    local = find_checkpoint(name, spec.sha256)
    if local is not None:
        return local
    cached = models_dir() / name
    if not download:
        raise CheckpointError(f"checkpoint {name} not found: run `sstsal download` or put it at {cached}")
    return fetch(spec, cached, timeout=timeout)


def known_files() -> dict[str, CopyTarget]:
    """{file name: where it goes, its sha256} of the SST-Sal checkpoints ``sstsal download --from`` takes."""
    return {name: CopyTarget(models_dir() / name, spec.sha256) for name, spec in CHECKPOINTS.items()}


def copy_from_folder(
    folder: str | os.PathLike, names: list[str] | None = None, *, extra: dict[str, CopyTarget] | None = None
) -> list[tuple[str, Path]]:
    """Copy the known checkpoints found in ``folder`` into the cache after checking their sha256.

    Every later run finds them there, without ``SSTSAL_MODELS``. ``extra``: more known files
    (the RAFT weights, which the flow package describes). See :func:`sstsal.published.copy_verified`.
    """
    return copy_verified(folder, {**known_files(), **(extra or {})}, names)
