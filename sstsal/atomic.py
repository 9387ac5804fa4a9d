"""Atomic writes: a file or folder appears under its final name only when complete.

A killed job must never leave something a later run would mistake for finished output,
so everything is written under a temporary name in the same folder and renamed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from sstsal.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the suffix so writers that choose a format by extension work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600: give the final file the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# What an earlier run of a step may have left in its output folder, and so may be replaced.
_OUTPUT_SUFFIXES = {".png", ".npz", ".npy", ".json", ".csv", ".tsv"}


def check_replaceable(path: Path) -> None:
    """Refuse to replace a folder that holds anything but earlier outputs of a step.

    Replacing is all-or-nothing, so ``--out`` pointing at a folder with other content (a
    project folder, the current directory, the input frames' parent) would delete it.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(f"{path} exists and is not a folder: choose another output folder")
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(f"refusing to write into {path}: it is (or contains) the current folder; choose a new folder")
    foreign = [
        entry.name + ("/" if entry.is_dir() else "")
        for entry in sorted(path.iterdir())
        if not entry.name.startswith(".") and (entry.is_dir() or entry.suffix.lower() not in _OUTPUT_SUFFIXES)
    ]
    if foreign:
        raise InputError(
            f"refusing to replace {path}: it holds things that are not outputs of this step "
            f"({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}); choose a new or empty folder"
        )


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``path`` as a whole.

    An existing ``path`` is replaced only if it holds nothing but earlier outputs
    (:func:`check_replaceable`), checked before any work is done.
    """
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp_path, 0o777 & ~_umask())  # mkdtemp makes 0700: give the final folder the usual mode
    try:
        yield tmp_path
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path, ignore_errors=True)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``image`` (uint8, OpenCV's BGR order) to ``path`` in the format of its suffix (not atomically).

    The bytes are cv2.imwrite's, written by Python, so a failed write raises the file system's
    own OSError (errno ENOSPC for a full disk, EACCES for a folder without permission) rather
    than OpenCV's bare False: a full disk is then told apart from a bad file.
    """
    suffix = Path(path).suffix
    ok, data = cv2.imencode(suffix, image)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of shape {image.shape} as {suffix}")
    with open(path, "wb") as handle:
        handle.write(data.tobytes())


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``image`` (uint8, HxW or HxWx3 in OpenCV's BGR order) atomically as PNG."""
    with atomic_file(path) as tmp:  # the temporary keeps the .png suffix
        write_image(tmp, image)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale_temporaries(output: str | os.PathLike) -> list[Path]:
    """Delete the hidden temporaries a killed job left next to ``output``; returns them.

    A job killed by SLURM (scancel, time limit, preemption) cannot clean up what
    :func:`atomic_file` and :func:`atomic_directory` started; its retry removes it. Safe because
    Snakemake runs at most one job per output at a time (its directory lock).
    """
    output = Path(output)
    if not output.parent.is_dir():
        return []
    stale = [*output.parent.glob(f".{glob.escape(output.name)}.*.tmp"),
             *output.parent.glob(f".{glob.escape(output.stem)}.*.tmp{glob.escape(output.suffix)}")]  # fmt: skip
    for path in stale:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return stale
