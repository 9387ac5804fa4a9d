"""Exports of the ground truth: a round trip through pysaliency gives the scores of ``sstsal evaluate``."""

from __future__ import annotations

import csv
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from sstsal.cli import main


def _import_pysaliency():
    """pysaliency 0.2.22 from PyPI, made importable on current setuptools and NumPy.

    Its package ``__init__`` imports modules that need ``pkg_resources`` (gone from setuptools
    81) at import time only, for bundled MATLAB models we do not use; and one ROC helper calls
    ``np.trapz`` (gone from NumPy 2.4). Both are restored for this test only.
    """
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ModuleNotFoundError:
            stub = types.ModuleType("pkg_resources")
            stub.resource_string = stub.resource_listdir = lambda *a, **k: None
            sys.modules["pkg_resources"] = stub
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid
    import pysaliency

    return pysaliency


def _recording(path: Path) -> Path:
    """Three observers, 2 s at 100 Hz, each fixating a few places in turn."""
    rng = np.random.default_rng(7)
    lines = ["time_s,observer,yaw,pitch"]
    for observer in ("ann", "bob", "cy"):
        t = 0.0
        while t < 2.0:
            yaw, pitch, duration = rng.uniform(-120, 120), rng.uniform(-30, 30), rng.uniform(0.15, 0.4)
            for k in range(int(duration * 100)):
                lines.append(f"{t + k / 100:.3f},{observer},{yaw + rng.normal(0, 0.05):.4f},{pitch + rng.normal(0, 0.05):.4f}")
            t += int(duration * 100) / 100
    path.write_text("\n".join(lines) + "\n")
    return path


def _predictions(folder: Path, numbers: list[int]) -> None:
    """Smooth 8-bit predictions at another size than the ground truth (evaluate resizes them)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for n in numbers:
        noise = cv2.GaussianBlur(rng.random((48, 96)), (0, 0), 4)
        cv2.imwrite(str(folder / f"clip_{n:04d}.png"), np.round(255 * (noise - noise.min()) / np.ptp(noise)).astype(np.uint8))


def test_pysaliency_round_trip_gives_the_scores_of_sstsal_evaluate(tmp_path: Path):
    pysaliency = _import_pysaliency()
    from sstsal.gaze.exports import load_pysaliency

    gaze = _recording(tmp_path / "clip.csv")
    numbers = list(range(0, 20, 2))
    _predictions(tmp_path / "pred", numbers)
    out = tmp_path / "gt"
    assert main(["groundtruth", str(gaze), "--out", str(out), "--name", "clip", "--fps", "10", "--frame-count", "20",
                 "--sampling", "all", "--size", "128x64", "--sigma", "5", "--tolerance", "0.6",
                 "--export-pysaliency", str(tmp_path / "pys"), "--pysaliency-model", str(tmp_path / "pred")]) == 0  # fmt: skip
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--gt", str(out / "clip"), "--fixations", str(out / "clip.csv"),
                 "--out", str(tmp_path / "metrics.csv"), "--no-baselines"]) == 0  # fmt: skip
    with (tmp_path / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ours = rows[-1]
    assert ours["frame"] == "mean" and len(rows) == len(numbers) + 1

    stimuli, fixations, model = load_pysaliency(tmp_path / "pys")
    assert len(stimuli) == len(numbers) and stimuli.sizes[0] == (64, 128)
    assert len(fixations.x) == sum(1 for _ in csv.DictReader((out / "clip.csv").open()) if int(_["frame"]) in numbers)
    nss = model.NSS(stimuli, fixations, average="image")
    auc_judd = model.AUC_Judd(stimuli, fixations, jitter=False)
    assert nss == pytest.approx(float(ours["nss"]), abs=2e-6)
    assert auc_judd == pytest.approx(float(ours["auc_judd"]), abs=2e-6)
    assert isinstance(model, pysaliency.SaliencyMapModel)


def test_pysaliency_export_of_the_ground_truth_itself(tmp_path: Path):
    _import_pysaliency()
    from sstsal.gaze.exports import load_pysaliency

    gaze = _recording(tmp_path / "clip.csv")
    assert main(["groundtruth", str(gaze), "--out", str(tmp_path / "gt"), "--name", "clip", "--fps", "10", "--frame-count", "20",
                 "--size", "64x32", "--tolerance", "0.6", "--export-pysaliency", str(tmp_path / "pys")]) == 0  # fmt: skip
    stimuli, fixations, model = load_pysaliency(tmp_path / "pys")
    # stimuli are told apart by content: every frame is its own stimulus
    assert len(set(stimuli.stimulus_ids)) == len(stimuli)
    # the ground truth predicts its own fixations far above chance
    assert model.AUC_Judd(stimuli, fixations, jitter=False) > 0.9


def test_export_errors(tmp_path: Path, capsys):
    gaze = _recording(tmp_path / "clip.csv")
    args = ["groundtruth", str(gaze), "--out", str(tmp_path / "gt"), "--name", "clip", "--fps", "10", "--frame-count", "20"]
    assert main(args + ["--pysaliency-model", str(tmp_path)]) == 2
    assert "--pysaliency-model needs --export-pysaliency" in capsys.readouterr().err
    assert not (tmp_path / "gt").exists()
