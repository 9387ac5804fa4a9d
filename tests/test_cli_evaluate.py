"""``sstsal evaluate``: pairing by frame number, CSV layout, fixations, skipped frames, errors."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sstsal.cli import main
from sstsal.evaluation import metrics

HEADER = [
    "frame", "cc", "sim", "kld", "nss", "auc_judd", "auc_borji",
    "cc_sphere", "sim_sphere", "kld_sphere", "nss_sphere", "auc_judd_sphere", "auc_borji_sphere",
]  # fmt: skip


def _blob(height: int, width: int, row: float, col: float, sigma: float) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.round(255 * image / image.max()).astype(np.uint8))


def _read(path: Path, model: str = "prediction") -> list[dict[str, str]]:
    """The rows of one model (the prediction, or a baseline) of a metrics CSV."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["model"] + HEADER
        return [row for row in reader if row["model"] == model]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Predictions of frames 10-14 (240x320), published-layout ground truth of frames 11-16 (60x120)."""
    for n in range(10, 15):
        _png(tmp_path / "pred" / f"clip_{n:04d}.png", _blob(240, 320, 120, 40 + 40 * (n - 10), 20) + 0.01)
    for n in range(11, 17):
        _png(tmp_path / "saliency_maps" / "clip" / f"{n:04d}.png", _blob(60, 120, 30, 15 + 15 * (n - 10), 5) + 0.01)
    return tmp_path


def test_evaluate_pairs_by_frame_number_and_counts_skipped_frames(dataset: Path, capsys):
    out = dataset / "metrics.csv"
    code = main(["evaluate", "--pred", str(dataset / "pred"), "--gt", str(dataset / "saliency_maps" / "clip"), "--out", str(out)])
    assert code == 0
    rows = _read(out)
    assert [r["frame"] for r in rows] == ["11", "12", "13", "14", "mean"]
    # Prediction n has its blob where ground truth n has it (after resizing to 60x120): well matched.
    for row in rows[:-1]:
        assert float(row["cc"]) > 0.9 and float(row["cc_sphere"]) > 0.9
        assert float(row["kld"]) < 0.2
        for name in ("nss", "auc_judd", "auc_borji", "nss_sphere", "auc_judd_sphere", "auc_borji_sphere"):
            assert row[name] == "", name
    assert float(rows[-1]["sim"]) == pytest.approx(np.mean([float(r["sim"]) for r in rows[:-1]]), abs=1e-5)
    err = capsys.readouterr().err
    assert "evaluated 4 frame(s)" in err
    assert "skipped 1 predicted frame(s) without ground truth" in err
    assert "2 ground-truth frame(s) without prediction" in err


def test_evaluate_values_equal_the_metrics_module(dataset: Path):
    out = dataset / "metrics.csv"
    gt_dir = dataset / "saliency_maps" / "clip"
    assert main(["evaluate", "--pred", str(dataset / "pred"), "--gt", str(gt_dir), "--out", str(out)]) == 0
    row = _read(out)[1]  # frame 12
    pred = cv2.imread(str(dataset / "pred" / "clip_0012.png"), cv2.IMREAD_GRAYSCALE).astype(np.float64)
    gt = cv2.imread(str(gt_dir / "0012.png"), cv2.IMREAD_GRAYSCALE).astype(np.float64)
    pred = cv2.resize(pred, (120, 60), interpolation=cv2.INTER_LINEAR)
    assert float(row["kld_sphere"]) == pytest.approx(metrics.kld(pred, gt, sphere=True), abs=1e-6)
    assert float(row["cc"]) == pytest.approx(metrics.cc(pred, gt), abs=1e-6)


def test_fixations_as_angles_and_as_pixels_give_the_same_scores(dataset: Path):
    # Fixations near each ground-truth blob; the pixel form refers to a 1920x960 image.
    yaw_pitch, pixels = ["frame,yaw,pitch"], ["video,frame,x,y,width,height"]
    for n in range(11, 17):
        for d_col, d_row in [(0, 0), (3, -2), (-4, 1)]:
            col, row = 15 + 15 * (n - 10) + d_col + 0.5, 30 + d_row + 0.5  # pixel centres of the 60x120 map
            yaw, pitch = col / 120 * 360 - 180, 90 - row / 60 * 180
            yaw_pitch.append(f"{n},{yaw},{pitch}")
            pixels.append(f"clip,{n},{col * 16},{row * 16},1920,960")
        pixels.append(f"other,{n},0,0,1920,960")  # another video: filtered out by --video
    (dataset / "angles.csv").write_text("\n".join(yaw_pitch) + "\n")
    (dataset / "pixels.csv").write_text("\n".join(pixels) + "\n")
    gt_dir = str(dataset / "saliency_maps" / "clip")
    base = ["evaluate", "--pred", str(dataset / "pred"), "--gt", gt_dir]
    assert main(base + ["--fixations", str(dataset / "angles.csv"), "--out", str(dataset / "a.csv")]) == 0
    assert main(base + ["--fixations", str(dataset / "pixels.csv"), "--video", "clip", "--out", str(dataset / "p.csv")]) == 0
    by_angle, by_pixel = _read(dataset / "a.csv"), _read(dataset / "p.csv")
    assert by_angle == by_pixel
    for row in by_angle[:-1]:
        assert float(row["nss"]) > 1.0 and float(row["auc_judd_sphere"]) > 0.9


def test_fixations_alone_evaluate_at_prediction_size(dataset: Path):
    (dataset / "fix.csv").write_text("frame,yaw,pitch\n12,-90,0\n13,0,0\n")
    out = dataset / "m.csv"
    assert main(["evaluate", "--pred", str(dataset / "pred"), "--fixations", str(dataset / "fix.csv"), "--out", str(out)]) == 0
    rows = _read(out)
    assert [r["frame"] for r in rows] == ["12", "13", "mean"]
    assert rows[0]["cc"] == "" and rows[0]["nss"] != ""
    # Frame 13's blob is centred at yaw 0 (column 160 of 320): the fixation hits its peak. Frame
    # 12's blob is at yaw -45 (column 120): the fixation at yaw -90 lies two sigmas off it.
    assert float(rows[1]["nss"]) > 3 > float(rows[0]["nss"])
    assert float(rows[1]["auc_judd"]) > float(rows[0]["auc_judd"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--gt", "missing"], "does not exist"),
        ([], "give ground-truth saliency maps"),
        (["--fixations", "bad.csv"], "needs a 'frame' column"),
        (["--gt", "unrelated"], "no predicted frame"),
    ],
)
def test_evaluate_errors_exit_2_and_write_nothing(dataset: Path, capsys, extra, message):
    (dataset / "bad.csv").write_text("frame,lon\n1,2\n")
    _png(dataset / "unrelated" / "0500.png", np.ones((4, 8)))
    out = dataset / "never.csv"
    args = [a if a.startswith("--") else str(dataset / a) for a in extra]
    assert main(["evaluate", "--pred", str(dataset / "pred"), *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_console_script_exit_code(dataset: Path):
    result = subprocess.run(
        [sys.executable, "-m", "sstsal", "evaluate", "--pred", str(dataset / "pred"), "--gt", str(dataset / "nope"),
         "--out", str(dataset / "x.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "ground-truth folder" in result.stderr and "does not exist" in result.stderr


def test_evaluate_scores_the_baselines_on_the_same_frames(dataset: Path):
    # two observers per frame, near the ground-truth blob, so each predicts the other well
    lines = ["frame,observer,yaw,pitch"]
    for n in range(11, 17):
        yaw = (15 + 15 * (n - 10) + 0.5) / 120 * 360 - 180
        lines += [f"{n},ann,{yaw},1", f"{n},ann,{yaw + 3},-2", f"{n},bob,{yaw - 2},0"]
    (dataset / "fix.csv").write_text("\n".join(lines) + "\n")
    out = dataset / "m.csv"
    gt = str(dataset / "saliency_maps" / "clip")
    assert main(["evaluate", "--pred", str(dataset / "pred"), "--gt", gt, "--fixations", str(dataset / "fix.csv"), "--out", str(out)]) == 0
    prediction = _read(out)
    for baseline in ("equator_bias", "centre_bias", "inter_observer"):
        rows = _read(out, baseline)
        assert [r["frame"] for r in rows] == [r["frame"] for r in prediction], baseline
        assert all(r["nss"] != "" for r in rows)
    # The fixations lie on the horizon: the equator band (fitted: about 1 degree) scores high NSS;
    # the other observer predicts each one better still than a band around the whole horizon.
    equator, observers = _read(out, "equator_bias")[-1], _read(out, "inter_observer")[-1]
    assert float(equator["nss"]) > 3
    assert float(observers["auc_judd"]) > float(equator["auc_judd"])
    # fixed widths are used as given, and stated
    assert main(["evaluate", "--pred", str(dataset / "pred"), "--gt", gt, "--out", str(dataset / "n.csv"), "--no-baselines"]) == 0
    assert {r["model"] for r in csv.DictReader((dataset / "n.csv").open())} == {"prediction"}


def test_baseline_widths_are_fitted_or_given_and_recorded(dataset: Path):
    from sstsal.evaluation.baselines import BaselineSettings
    from sstsal.evaluation.evaluate import evaluate_folders

    gt = dataset / "saliency_maps" / "clip"
    fitted = evaluate_folders(dataset / "pred", gt)
    # the ground-truth blobs lie on the horizon, 5 pixels (15 degrees) wide: a narrow band
    assert 5 < fitted.baseline_record["equator_bias"]["sigma_deg"] < 25 and fitted.baseline_record["equator_bias"]["fitted"]
    given = evaluate_folders(dataset / "pred", gt, baselines=BaselineSettings(equator_sigma_deg=30.0))
    assert given.baseline_record["equator_bias"] == {"sigma_deg": 30.0, "fitted": False}
    assert given.baselines["inter_observer"] == []  # no fixations: no inter-observer rows
    with pytest.raises(Exception, match="sigma must lie in"):
        evaluate_folders(dataset / "pred", gt, baselines=BaselineSettings(centre_sigma_deg=0.0))
