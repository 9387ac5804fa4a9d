"""The workflow's evaluation and training: config ``ground_truth``, rules evaluate,
evaluation_summary (summary table and plots in the report) and the ``train`` target."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest
import snakemake_run
import yaml
from synthetic_saliency import write_moving_blobs

from sstsal.evaluation.metrics import METRIC_NAMES
from sstsal.model.checkpoint import load_model

# Integration tests (workflow runs with evaluation and training): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


def run_snakemake(workdir: Path, config: dict, *args: str, check: bool = True,
                  config_name: str = "config.yaml") -> subprocess.CompletedProcess:  # fmt: skip
    (workdir / config_name).write_text(yaml.safe_dump(config))
    return snakemake_run.snakemake(workdir, *args, configfile=workdir / config_name, cwd=workdir, check=check)


def make_config(workdir: Path, **changes) -> dict:
    """Bring-your-own frames of videos 001 and 002, no flow (the published no-flow model), CPU."""
    config = {
        "videos": str(workdir / "no-videos"),
        "inputs": {"frames": str(workdir / "blobs" / "frames"), "flow": None},
        "flow": {"method": "none"},
        "model": {"device": "cpu"},
        "summary": {"frames": 2},
    }
    config.update(changes)
    return config


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    """A finished run in which video 001 has ground truth (maps for frames 0-9, fixations on even
    frames) and video 002 has none."""
    workdir = tmp_path_factory.mktemp("evaluate")
    blobs = workdir / "blobs"
    write_moving_blobs(blobs, videos=2, frames=12, height=240, width=320)
    gt = workdir / "gt"
    shutil.copytree(blobs / "saliency_maps" / "001", gt / "001")
    for n in (10, 11):
        (gt / "001" / f"{n:04d}.png").unlink()
    (gt / "001.csv").write_text("frame,yaw,pitch\n" + "".join(f"{n},{-90 + 10 * n},5\n" for n in range(0, 12, 2)))
    run_snakemake(workdir, make_config(workdir, ground_truth=str(gt)))
    return workdir


def _rows(path: Path, model: str | None = None) -> list[dict[str, str]]:
    """The rows of one model (the prediction or a baseline; None: all) of metrics.csv or summary.csv."""
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if model is None or row["model"] == model]


def test_evaluate_writes_per_frame_metrics_and_counts_frames_without_ground_truth(evaluated: Path):
    rows = _rows(evaluated / "results" / "001" / "metrics.csv", "prediction")
    # Frames 0-9 have maps, 10 has fixations only, 11 has nothing: skipped and counted.
    assert [r["frame"] for r in rows] == [str(n) for n in range(11)] + ["mean"]
    assert rows[10]["cc"] == "" and rows[10]["nss"] != ""
    assert rows[1]["nss"] == "" and rows[1]["kld_sphere"] != ""
    counts = json.loads((evaluated / "results" / "001" / "metrics.json").read_text())
    assert {k: counts[k] for k in ("frames_evaluated", "predictions_without_ground_truth", "ground_truth_without_prediction")} == {
        "frames_evaluated": 11, "predictions_without_ground_truth": 1, "ground_truth_without_prediction": 0}  # fmt: skip
    # the baselines are scored on the same frames; without an observer column, no inter-observer rows
    assert counts["baselines"]["equator_bias"]["fitted"] and counts["baselines"]["inter_observer"]["frames"] == 0
    for baseline in ("equator_bias", "centre_bias"):
        assert [r["frame"] for r in _rows(evaluated / "results" / "001" / "metrics.csv", baseline)] == [r["frame"] for r in rows]
    assert not (evaluated / "results" / "002" / "metrics.csv").exists()


def test_summary_table_and_plots(evaluated: Path):
    folder = evaluated / "results" / "evaluation"
    summary = _rows(folder / "summary.csv", "prediction")
    assert [r["video"] for r in summary] == ["001", "002", "mean over videos"]
    baselines = [(r["video"], r["model"]) for r in _rows(folder / "summary.csv", None) if r["model"] != "prediction"]
    assert baselines == [("001", "equator_bias"), ("001", "centre_bias"),
                         ("mean over videos", "equator_bias"), ("mean over videos", "centre_bias")]  # fmt: skip
    assert summary[0]["frames_evaluated"] == "11" and summary[0]["predictions_without_ground_truth"] == "1"
    assert summary[1]["frames_evaluated"] == "0" and summary[1]["cc"] == ""  # listed, not dropped
    per_frame_mean = _rows(evaluated / "results" / "001" / "metrics.csv", "prediction")[-1]
    assert summary[0]["kld_sphere"] == per_frame_mean["kld_sphere"]
    for metric in METRIC_NAMES:
        image = cv2.imread(str(folder / f"{metric}.png"))
        assert image is not None and image.shape[0] > 100 and image.std() > 5, metric


def test_report_includes_the_evaluation(evaluated: Path):
    config = yaml.safe_load((evaluated / "config.yaml").read_text())
    run_snakemake(evaluated, config, "--report", "report.html")
    html = (evaluated / "report.html").read_text(errors="replace")
    assert "Evaluation" in html and "summary.csv" in html and "auc_judd.png" in html


def test_no_ground_truth_no_evaluation_and_a_missing_folder_is_named(evaluated: Path, tmp_path: Path):
    config = make_config(evaluated)
    dry = run_snakemake(evaluated, config, "--dry-run", "--forceall", config_name="other.yaml")
    assert "rule evaluate" not in dry.stdout and "rule inference" in dry.stdout
    config["ground_truth"] = str(tmp_path / "absent")
    failed = run_snakemake(evaluated, config, "--dry-run", check=False, config_name="other.yaml")
    assert failed.returncode != 0
    assert f"ground_truth folder {tmp_path / 'absent'} does not exist" in failed.stdout + failed.stderr


def test_train_target_trains_on_the_ground_truth_videos_and_resumes(evaluated: Path):
    config = yaml.safe_load((evaluated / "config.yaml").read_text())
    config["training"] = {"epochs": 1, "sequence_length": 4, "skip_frames": 0, "height": 24, "width": 32,
                          "val_fraction": 0.0}  # fmt: skip
    run_snakemake(evaluated, config, "train")
    out = evaluated / "results" / "training"
    model = load_model(out / "model.safetensors")
    assert (model.input_channels, model.hidden_channels) == (3, 9)  # no flow in this workflow
    # Frames 0-7 of video 001 form two 4-frame sequences; 8-11 lack ground truth for 10 and 11.
    assert _rows(out / "losses.csv")[0]["train_sequences"] == "2"
    # More epochs: Snakemake reruns the job, which continues the run instead of starting over.
    config["training"]["epochs"] = 2
    run_snakemake(evaluated, config, "train")
    rows = _rows(out / "losses.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert "resuming" in (evaluated / "logs" / "train.log").read_text()
