"""Provisioning of the published checkpoints: local folders first, then a checksummed download.

Order of look-up for a checkpoint file:
1. the folder named by ``SSTSAL_MODELS`` (e.g. a shared copy on an offline cluster);
2. the cache folder :func:`models_dir` (``$SSTSAL_CACHE`` or ``~/.cache/sstsal/models``);
3. a download from the pinned URL into the cache, verified against its sha256.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from sstsal.atomic import atomic_file
from sstsal.errors import CheckpointError
from sstsal.hashing import sha256_of

# Upstream commit dc6a4ba of github.com/edurnebernal/SST-Sal (the repository has no licence
# file, so the weights are fetched at run time, never shipped).
_SSTSAL_URL = "https://github.com/edurnebernal/SST-Sal/raw/dc6a4bae83d5ccd1f305754ffc0a97e3ff5ebbbf/models/{}"


@dataclass(frozen=True)
class PublishedFile:
    """One published file: its name, pinned URL, sha256, size in bytes and what it is."""

    name: str
    url: str
    sha256: str
    size: int
    # Not part of a file's identity (and a dict is not hashable), so left out of eq and hash.
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)


class SstSalWeights(Enum):
    """The published SST-Sal checkpoints, in the manner of torchvision's weights enums.

    ``SstSalWeights.DEFAULT`` is the model with optical flow, as published.
    """

    SST_SAL = PublishedFile(
        "SST_Sal.pth",
        _SSTSAL_URL.format("SST_Sal.pth"),
        "f1a50c86195a368520ce61581eb66e261fbea888ee554b9e09e3d8fe56d79d54",
        227039,
        {"uses_flow": True, "input_channels": 6, "description": "SST-Sal on frames and RAFT flow images"},
    )
    SST_SAL_WO_OF = PublishedFile(
        "SST_Sal_wo_OF.pth",
        _SSTSAL_URL.format("SST_Sal_wo_OF.pth"),
        "e3f6043cbb190c42fe9655e2dcc9853bd841c7ca40bf533370737c465a15a25b",
        20575,
        {"uses_flow": False, "input_channels": 3, "description": "SST-Sal on frames only (no optical flow)"},
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


def models_dir() -> Path:
    """The cache folder for downloaded checkpoints."""
    cache = os.environ.get("SSTSAL_CACHE")
    if cache:
        return Path(cache).expanduser() / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sstsal" / "models"



def fetch_file(url: str, sha256: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically; refuse it unless its sha256 matches.

    An existing ``dest`` with the right checksum is reused. When the download fails
    (offline), the error says which file to put where.
    """
    dest = Path(dest)
    if dest.is_file():
        if sha256_of(dest) == sha256:
            return dest
        raise CheckpointError(f"{dest} exists but its sha256 is not {sha256}: delete it and run `sstsal download` again")
    try:
        with atomic_file(dest) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
            actual = sha256_of(tmp)
            if actual != sha256:
                raise CheckpointError(f"download of {url} has sha256 {actual}, expected {sha256}: refused")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise CheckpointError(
            f"could not download {url} ({exc}). Without internet, get that file elsewhere and put it at {dest} "
            f"(or in the folder named by SSTSAL_MODELS); its sha256 must be {sha256}"
        ) from exc
    return dest


def checkpoint_path(name: str | SstSalWeights = SstSalWeights.DEFAULT, *, download: bool = True, timeout: float = 60.0) -> Path:
    """Path of a published checkpoint (a file name or a :class:`SstSalWeights`), from SSTSAL_MODELS,
    the cache, or a download."""
    if isinstance(name, SstSalWeights):
        name = name.file_name
    if name not in CHECKPOINTS:
        raise CheckpointError(f"unknown checkpoint {name!r}: known are {', '.join(CHECKPOINTS)}")
    spec = CHECKPOINTS[name]
    local = os.environ.get("SSTSAL_MODELS")
    if local:
        candidate = Path(local).expanduser() / name
        if candidate.is_file():
            if sha256_of(candidate) != spec.sha256:
                raise CheckpointError(f"{candidate} (from SSTSAL_MODELS) has the wrong sha256; expected {spec.sha256}")
            return candidate
    cached = models_dir() / name
    if not download and not cached.is_file():
        raise CheckpointError(f"checkpoint {name} not found: run `sstsal download` or put it at {cached}")
    return fetch_file(spec.url, spec.sha256, cached, timeout=timeout)


def known_files() -> dict[str, str | None]:
    """{file name: sha256 or None} of every checkpoint ``copy_from_folder`` takes.

    The SST-Sal checkpoints and the published ``raft-sintel.pth`` go to :func:`models_dir`;
    torchvision's RAFT weights file goes to the torch hub cache, where torchvision looks.
    """
    files: dict[str, str | None] = {name: spec.sha256 for name, spec in CHECKPOINTS.items()}
    from sstsal.flow.raft import PUBLISHED_CHECKPOINT_NAME, PUBLISHED_CHECKPOINT_SHA256, torchvision_weights_path

    files[PUBLISHED_CHECKPOINT_NAME] = PUBLISHED_CHECKPOINT_SHA256
    files[torchvision_weights_path().name] = None  # torchvision's name holds a sha256 prefix
    return files


def _destination(name: str) -> Path:
    from sstsal.flow.raft import torchvision_weights_path

    hub = torchvision_weights_path()
    return hub if name == hub.name else models_dir() / name


def copy_from_folder(folder: str | os.PathLike, names: list[str] | None = None) -> list[tuple[str, Path]]:
    """Copy the known checkpoints found in ``folder`` into the cache after checking their sha256.

    Every later run finds them there, without ``SSTSAL_MODELS``. ``names``: the files that must
    be there (default: whichever known files the folder holds, at least one). Every file is
    checked before anything is copied; returns (name, destination) of each copied file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder: give the folder holding {', '.join(CHECKPOINTS)}")
    known = known_files()
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CheckpointError(f"unknown checkpoint {unknown[0]!r}: known are {', '.join(known)}")
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise CheckpointError(f"{folder} has no {', '.join(missing)}")
    else:
        names = [n for n in known if (folder / n).is_file()]
        if not names:
            raise CheckpointError(f"{folder} holds none of {', '.join(known)}: give the folder the checkpoints are in")
    for name in names:
        expected, actual = known[name], sha256_of(folder / name)
        if expected is None:  # torchvision: <name>-<first hex digits of its sha256>.pth
            expected_prefix = name.rsplit("-", 1)[-1].split(".")[0]
            ok = actual.startswith(expected_prefix)
        else:
            ok = actual == expected
        if not ok:
            raise CheckpointError(
                f"{folder / name} has sha256 {actual}, not that of the published file: nothing copied; "
                "get an intact copy (or delete it from that folder)"
            )
    copied = []
    for name in names:
        dest = _destination(name)
        if not (dest.is_file() and sha256_of(dest) == sha256_of(folder / name)):
            with atomic_file(dest) as tmp:
                shutil.copyfile(folder / name, tmp)
        copied.append((name, dest))
    return copied
