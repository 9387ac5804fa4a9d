"""Published files: pinned URLs with sha256, the folders searched for them, the cache, the download.

The one home of these concerns for every published file the package uses (the SST-Sal
checkpoints, the RAFT weights) and for the test data built from public sources:

- ``SSTSAL_UPSTREAM`` is the base of every GitHub URL (default ``https://github.com``); a
  folder with the same files in GitHub's URL layout serves as a mirror (``file:///...``).
- ``SSTSAL_MODELS`` names a folder searched first for checkpoints (a shared copy on an
  offline cluster); it is read here and nowhere else.
- ``SSTSAL_CACHE`` is the cache (default ``$XDG_CACHE_HOME/sstsal`` or ``~/.cache/sstsal``);
  checkpoints go to its ``models/`` folder.

What is downloaded, and under which licence (each :class:`PublishedFile` carries its own in
``licence``, logged when it is downloaded; none of these files is in the repository):

- the SST-Sal checkpoints ``SST_Sal.pth``, ``SST_Sal_wo_OF.pth`` (edurnebernal/SST-Sal at commit
  dc6a4ba, :mod:`sstsal.model.weights`): the repository has no licence file, so no licence is
  granted: they are fetched for use at run time and never redistributed;
- the RAFT weights (:mod:`sstsal.flow.raft.weights`): the published ``raft-sintel.pth``
  (princeton-vl/RAFT's ``models.zip``), BSD-3-Clause; torchvision's port of it,
  ``Raft_Large_Weights.C_T_SKHT_V1``, BSD-3-Clause (torchvision's and RAFT's licence);
- test data only (``tests/testdata.py``): the test clip ``testRoom1_1920Mono.mp4``
  (googlevr/gvr-android-sdk at commit 3e39e12), CC BY 4.0, "testRoom1_1920Mono.mp4 by Google";
  the raw gaze recording ``rawDataDyn1.csv`` (David-Ef/salient360Toolbox at commit aff27d9), MIT;
  the SST-Sal code (no licence file, as above) and the RAFT code and demo frames (BSD-3-Clause).

Nothing here imports torch or the rest of the package's subpackages but the atomic writer.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sstsal.atomic import atomic_file
from sstsal.errors import CheckpointError
from sstsal.hashing import sha256_of

UPSTREAM_ENV = "SSTSAL_UPSTREAM"
DEFAULT_UPSTREAM = "https://github.com"
MODELS_ENV = "SSTSAL_MODELS"
CACHE_ENV = "SSTSAL_CACHE"

logger = logging.getLogger(__name__)


def upstream_base() -> str:
    """The base URL of GitHub-hosted files: ``$SSTSAL_UPSTREAM`` or https://github.com."""
    return (os.environ.get(UPSTREAM_ENV) or DEFAULT_UPSTREAM).rstrip("/")


def github_raw(repo: str, commit: str, path: str) -> str:
    """The GitHub path (relative to :func:`upstream_base`) of one file of ``repo`` at ``commit``."""
    return f"{repo}/raw/{commit}/{path}"


def github_archive(repo: str, commit: str) -> str:
    """The GitHub path (relative to :func:`upstream_base`) of the .tar.gz of ``repo`` at ``commit``."""
    return f"{repo}/archive/{commit}.tar.gz"


def resolve_url(url: str) -> str:
    """``url`` itself when absolute, else the GitHub path ``url`` under :func:`upstream_base`."""
    return url if "://" in url else f"{upstream_base()}/{url}"


@dataclass(frozen=True)
class PublishedFile:
    """One published file: its name, URL, sha256, size in bytes, what it is and its licence.

    ``url`` is absolute, or a GitHub path (``owner/repo/raw/<commit>/<path>``) resolved under
    ``SSTSAL_UPSTREAM`` when downloaded (:attr:`resolved_url`).
    """

    name: str
    url: str
    sha256: str
    size: int
    # Not part of a file's identity (and a dict is not hashable), so left out of eq and hash.
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # Under which terms it is published (said when it is downloaded); "" where not recorded.
    licence: str = field(default="", compare=False)

    @property
    def resolved_url(self) -> str:
        return resolve_url(self.url)


def cache_dir() -> Path:
    """The package's cache: ``$SSTSAL_CACHE``, else ``$XDG_CACHE_HOME/sstsal`` or ``~/.cache/sstsal``."""
    cache = os.environ.get(CACHE_ENV)
    if cache:
        return Path(cache).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sstsal"


def models_dir() -> Path:
    """The cache folder for downloaded checkpoints: ``<cache>/models``."""
    return cache_dir() / "models"


def local_models_dir() -> Path | None:
    """The folder ``SSTSAL_MODELS`` names (searched before the cache), or None."""
    local = os.environ.get(MODELS_ENV)
    return Path(local).expanduser() if local else None


def model_dirs() -> list[Path]:
    """The folders searched for a checkpoint, in order: ``SSTSAL_MODELS``, then the cache."""
    dirs = [d for d in (local_models_dir(), models_dir()) if d is not None]
    return list(dict.fromkeys(dirs))


def places(name: str) -> str:
    """Where a checkpoint ``name`` may be put, for messages: '<cache>/name or <SSTSAL_MODELS>/name'."""
    return " or ".join(str(d / name) for d in reversed(model_dirs()))


def find_checkpoint(name: str, sha256: str | None = None) -> Path | None:
    """``name`` in the searched folders (:func:`model_dirs`), or None.

    A copy whose sha256 is not ``sha256`` (when given) is refused.
    """
    local = local_models_dir()
    for folder in model_dirs():
        candidate = folder / name
        if candidate.is_file():
            if sha256 is not None and sha256_of(candidate) != sha256:
                if folder == local:
                    raise CheckpointError(f"{candidate} (from {MODELS_ENV}) has the wrong sha256; expected {sha256}")
                raise CheckpointError(
                    f"{candidate} exists but its sha256 is not {sha256}: delete it and run `sstsal download` again"
                )
            return candidate
    return None


def fetch_file(url: str, sha256: str, dest: str | os.PathLike, *, timeout: float = 60.0) -> Path:
    """Download ``url`` (absolute, or a GitHub path under ``SSTSAL_UPSTREAM``) to ``dest``
    atomically; refuse it unless its sha256 matches.

    An existing ``dest`` with the right checksum is reused. When the download fails
    (offline), the error says which file to put where.
    """
    dest = Path(dest)
    url = resolve_url(url)
    if dest.is_file():
        if sha256_of(dest) == sha256:
            return dest
        raise CheckpointError(f"{dest} exists but its sha256 is not {sha256}: delete it and run `sstsal download` again")
    try:
        with atomic_file(dest) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            actual = sha256_of(tmp)
            if actual != sha256:
                raise CheckpointError(f"download of {url} has sha256 {actual}, expected {sha256}: refused")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise CheckpointError(
            f"could not download {url} ({exc}). Without internet, get that file elsewhere and put it at {dest} "
            f"(or in the folder named by {MODELS_ENV}); its sha256 must be {sha256}"
        ) from exc
    return dest


def fetch(spec: PublishedFile, dest: str | os.PathLike, *, timeout: float = 60.0) -> Path:
    """:func:`fetch_file` of one :class:`PublishedFile` (its licence is logged when it is downloaded)."""
    if spec.licence and not Path(dest).is_file():
        logger.info("downloading %s (%s)", spec.name, spec.licence)
    return fetch_file(spec.url, spec.sha256, dest, timeout=timeout)


@dataclass(frozen=True)
class CopyTarget:
    """Where ``copy_verified`` puts a known file, and how its checksum is checked."""

    dest: Path
    # The full sha256, or None for torchvision's files, whose name holds its first hex digits.
    sha256: str | None


def _checksum_ok(path: Path, name: str, sha256: str | None) -> bool:
    actual = sha256_of(path)
    if sha256 is None:  # torchvision: <name>-<first hex digits of its sha256>.pth
        return actual.startswith(name.rsplit("-", 1)[-1].split(".")[0])
    return actual == sha256


def copy_verified(
    folder: str | os.PathLike, known: Mapping[str, CopyTarget], names: list[str] | None = None
) -> list[tuple[str, Path]]:
    """Copy the ``known`` files found in ``folder`` to their destinations after checking their sha256.

    ``names``: the files that must be there (default: whichever known files the folder holds,
    at least one). Every file is checked before anything is copied; returns (name,
    destination) of each copied file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder: give the folder holding {', '.join(known)}")
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
        if not _checksum_ok(folder / name, name, known[name].sha256):
            raise CheckpointError(
                f"{folder / name} has sha256 {sha256_of(folder / name)}, not that of the published file: nothing "
                "copied; get an intact copy (or delete it from that folder)"
            )
    copied = []
    for name in names:
        dest = known[name].dest
        if not (dest.is_file() and sha256_of(dest) == sha256_of(folder / name)):
            with atomic_file(dest) as tmp:
                shutil.copyfile(folder / name, tmp)
        copied.append((name, dest))
    return copied
