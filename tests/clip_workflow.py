"""Runs of the workflow on one small generated clip, for the chunking and SLURM tests.

One local, unchunked run is the reference every other run must reproduce bit for bit; it is
made once per test session (``reference_run``) and shared by tests/test_chunks.py and
tests/test_slurm.py.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import snakemake_run
import yaml
from snakemake_run import REPO, SNAKEMAKE, environment  # noqa: F401  (tests import them from here)
from videoclips import make_clip

from sstsal.media.saliency_stack import load_stack, read_warmup

VIDEO = "clip"
# 84 frames at 24 fps, every round(24 / 8) = 3rd sampled: 28 frames. More than one 20-frame
# inference window: the published window [0, 20) and the tail window [8, 28) kept from 20 on.
SAMPLED = 28
# Files that must be equal byte for byte between runs (the overlay is an H.264 encode whose
# bytes depend on the encoder's threads; it is checked for presence only).
SAME_BYTES = ("flow", "saliency", "directions.csv", "contact_sheet.png", "frames", "director.csv")


def clip_config(chunk_frames: int = 0) -> dict:
    """CPU-friendly settings: DIS flow, CPU inference, a small overlay."""
    return {
        "videos": "videos",
        "chunk_frames": chunk_frames,
        "extract": {"keep_flow_frames": True},  # the chunk tests read them
        "flow": {"method": "dis", "width": 256},
        "model": {"device": "cpu"},
        "render": {"width": 256, "preset": "ultrafast"},
        "summary": {"frames": 4},
        "director": {"width": 128, "height": 72, "preset": "ultrafast"},
        "viewer": {"width": 128, "preset": "ultrafast"},
    }


def new_workdir(root: Path, chunk_frames: int = 0) -> Path:
    """``root`` with the clip in videos/ and config/config.yaml (where the Snakefile looks)."""
    make_clip(root / "videos" / f"{VIDEO}.mp4", width=256, height=128, fps=24, seconds=3.5)
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(clip_config(chunk_frames)))
    return root


def snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir``; raise with the output's tail when it fails."""
    return snakemake_run.snakemake(workdir, *args, cores=None, timeout=timeout)


@functools.cache
def reference_run() -> Path:
    """The local, unchunked run of the whole workflow (made once per session)."""
    root = Path(tempfile.mkdtemp(prefix="sstsal-reference-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    workdir = new_workdir(root)
    snakemake(workdir, "--cores", "2")
    return workdir


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """{file name: content} of every file in ``folder``; hidden leftovers (a half-written
    temporary) count too, only Snakemake's marker of a finished directory output does not."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != ".snakemake_timestamp"}


def assert_same_results(run: Path, reference: Path, names: tuple[str, ...] = SAME_BYTES) -> None:
    """``run`` has the reference's outputs: equal files and folders, the same float16 stack."""
    for name in names:
        ours, theirs = run / "results" / VIDEO / name, reference / "results" / VIDEO / name
        if theirs.is_dir():
            a, b = folder_bytes(ours), folder_bytes(theirs)
            assert sorted(a) == sorted(b), f"{name}: different files"
            different = [n for n in a if a[n] != b[n]]
            assert not different, f"{name}: {len(different)} file(s) differ, e.g. {different[:3]}"
        else:
            assert ours.read_bytes() == theirs.read_bytes(), f"{name} differs"
    maps, names_ = load_stack(run / "results" / VIDEO / "saliency.npz")
    ref_maps, ref_names = load_stack(reference / "results" / VIDEO / "saliency.npz")
    assert names_ == ref_names
    assert maps.dtype == ref_maps.dtype == np.float16
    assert np.array_equal(maps.view(np.uint16), ref_maps.view(np.uint16)), "saliency stacks differ"
    assert len(names_) == SAMPLED
    assert read_warmup(run / "results" / VIDEO / "saliency.npz") == read_warmup(reference / "results" / VIDEO / "saliency.npz") == set(names_[:4])
    assert (run / "results" / VIDEO / "overlay.mp4").stat().st_size > 0
