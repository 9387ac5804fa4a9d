"""The workflow with raw gaze as ground truth: a gaze folder plus a video folder give the ground
truth (rule groundtruth, cached), the metrics with baselines and the evaluation plots in one run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_evaluate_workflow import run_snakemake
from videoclips import make_clip

pytestmark = pytest.mark.slow


def _gaze(path: Path, seconds: float) -> None:
    """Two observers at 100 Hz: both follow the clip's square (upper third, moving right), with a
    saccade back every half second."""
    lines = ["time_s,observer,yaw,pitch"]
    for observer, shift in (("ann", 0.0), ("bob", 4.0)):
        for k in range(int(seconds * 100)):
            t = k / 100
            lines.append(f"{t:.2f},{observer},{-150 + 60 * (t % 0.5) + shift:.3f},{30 + shift / 2:.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    workdir = tmp_path_factory.mktemp("gaze_workflow")
    make_clip(workdir / "videos" / "clipA.mp4", width=256, height=128, fps=12, seconds=2.0)
    make_clip(workdir / "videos" / "clipB.mp4", width=256, height=128, fps=12, seconds=2.0, seed=1)
    _gaze(workdir / "gaze" / "clipA.csv", 2.0)  # clipB has no recording: listed, not evaluated
    config = {
        "videos": str(workdir / "videos"),
        "flow": {"method": "none"},
        "model": {"device": "cpu"},
        "summary": {"frames": 2},
        "director": {"enabled": False},
        "viewer": {"enabled": False},
        "ground_truth": str(workdir / "gaze"),
        "gaze": {"format": "plain", "sigma_deg": 6.0, "width": 64, "height": 32},
    }
    run_snakemake(workdir, config)
    return workdir, config


def test_gaze_folder_gives_ground_truth_metrics_and_plots(run):
    workdir, _ = run
    truth = workdir / "results" / "ground_truth"
    frames = sorted(p.name for p in (workdir / "results" / "clipA" / "frames").iterdir())
    assert sorted(p.name for p in (truth / "clipA").iterdir()) == frames  # one map per frame the model sees
    record = json.loads((truth / "clipA.json").read_text())
    assert record["map"] == {"width": 64, "height": 32, "sigma_deg": 6.0} and set(record["observers"]) == {"ann", "bob"}
    with (workdir / "results" / "clipA" / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    models = {r["model"] for r in rows}
    assert models == {"prediction", "equator_bias", "centre_bias", "inter_observer"}
    observers = [r for r in rows if r["model"] == "inter_observer" and r["frame"] == "mean"][0]
    assert float(observers["nss"]) > 1  # the two observers look at nearly the same place
    with (workdir / "results" / "evaluation" / "summary.csv").open(newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert ("clipB", "prediction", "0") in {(r["video"], r["model"], r["frames_evaluated"]) for r in summary}
    assert all(np.isfinite(float(r["cc"])) for r in summary if r["video"] == "clipA")
    assert (workdir / "results" / "evaluation" / "nss.png").is_file()


def test_a_changed_gaze_setting_rebuilds_the_ground_truth(run):
    workdir, config = run
    same = run_snakemake(workdir, config, "--dry-run")
    assert "rule groundtruth" not in same.stdout
    changed = dict(config, gaze=dict(config["gaze"], sigma_deg=3.0))
    dry = run_snakemake(workdir, changed, "--dry-run", config_name="changed.yaml")
    assert "rule groundtruth" in dry.stdout and "rule evaluate" in dry.stdout and "rule inference" not in dry.stdout


def test_a_profile_rebuilds_the_ground_truth_and_keys_given_with_it_win(run):
    workdir, config = run
    profiled = dict(config, gaze=dict(config["gaze"], profile="pvs-hm"))  # every sample a point; sigma 6 stays
    dry = run_snakemake(workdir, profiled, "--dry-run", config_name="profile.yaml")
    assert "rule groundtruth" in dry.stdout and "rule inference" not in dry.stdout
    bad = dict(config, gaze=dict(config["gaze"], profile="salient360-dynamic"))  # plain recordings: no frame column
    failed = run_snakemake(workdir, bad, "--forcerun", "groundtruth", check=False, config_name="dynamic.yaml")
    assert failed.returncode != 0 and "needs a recording with a frame column" in failed.stdout + failed.stderr


def test_bad_gaze_stops_with_one_line(run, tmp_path: Path):
    workdir, config = run
    gaze = tmp_path / "gaze"
    (gaze).mkdir()
    (gaze / "clipA.csv").write_text("time_s,observer,yaw,pitch\n0,ann,0,0\n0.5,ann,1,0\n")  # 0.5 s of a 2 s video
    bad = dict(config, ground_truth=str(gaze))
    failed = run_snakemake(workdir, bad, "--forcerun", "groundtruth", check=False, config_name="bad.yaml")
    assert failed.returncode != 0
    assert "error: the recording of observer ann spans" in failed.stdout + failed.stderr
