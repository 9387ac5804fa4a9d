"""Training: the published loss, sequences, augmentation, learning, resuming, and the result predicting."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from synthetic_saliency import write_moving_blobs
from videoclips import shared_dir

from sstsal.cli import main
from sstsal.errors import InputError
from sstsal.evaluation import metrics
from sstsal.model.checkpoint import load_model
from sstsal.training.config import TrainConfig
from sstsal.training.data import DataLayout, SequenceDataset, make_sequences
from sstsal.training.loss import spherical_kl_loss
from sstsal.training.state import CHECKPOINT, read_loss_log

HEIGHT, WIDTH = 24, 48
# A tiny run: 8-frame sequences, no skipped frames, a narrow encoder; everything else published.
TINY = ["--resolution", f"{HEIGHT}x{WIDTH}", "--sequence-length", "8", "--skip-frames", "0", "--hidden", "8",
        "--workers", "0", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blobs")
    write_moving_blobs(root, videos=5, frames=16, height=HEIGHT, width=WIDTH)
    return root


@pytest.fixture(scope="module")
def trained(blobs: Path, tmp_path_factory) -> Path:
    """Two epochs in one go."""
    out = tmp_path_factory.mktemp("run") / "straight"
    assert main(["train", "--data", str(blobs), "--epochs", "2", "--out", str(out), *TINY]) == 0
    return out


# --- the loss ----------------------------------------------------------------------------------


def _published_loss_by_hand(pred: np.ndarray, gt: np.ndarray) -> float:
    """The published sphericalKLDiv formula for one (H, W) frame, written out pixel row by row."""
    eps = 1e-8
    height, width = pred.shape
    p = (pred - pred.min()) / (pred.max() - pred.min() + eps)
    g = (gt - gt.min()) / (gt.max() - gt.min() + eps)
    p, g = p / (p.sum() + eps), g / (g.sum() + eps)
    total = 0.0
    for row in range(height):
        top, bottom = row * math.pi / height, (row + 1) * math.pi / height
        weight = (2 * math.pi / width) * (math.sin(top) + math.sin(bottom)) / 2 * (math.pi / height)
        total += weight * float((g[row] * np.log(g[row] / (p[row] + eps) + eps)).sum())
    return total


def test_spherical_kl_loss_is_the_published_formula():
    rng = np.random.default_rng(0)
    pred = rng.random((2, 3, 12, 20)).astype(np.float32)
    gt = (rng.random((2, 3, 12, 20)) ** 4).astype(np.float32)
    loss = spherical_kl_loss(torch.from_numpy(pred), torch.from_numpy(gt))
    assert loss.shape == (2, 3)
    for b in range(2):
        for t in range(3):
            expected = _published_loss_by_hand(pred[b, t].astype(np.float64), gt[b, t].astype(np.float64))
            assert float(loss[b, t]) == pytest.approx(expected, rel=1e-4)


def test_spherical_kl_loss_is_zero_for_a_perfect_prediction_and_has_gradients():
    gt = torch.rand(1, 2, 8, 16)
    pred = (3 * gt + 1).requires_grad_()  # min-max normalisation removes scale and offset
    loss = spherical_kl_loss(pred, gt).detach()
    assert float(loss.abs().max()) < 1e-5
    spherical_kl_loss(pred, torch.rand(1, 2, 8, 16)).sum().backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0


# --- data ----------------------------------------------------------------------------------------


def test_sequences_follow_the_published_split_and_drop_incomplete_ones(blobs: Path, tmp_path: Path):
    layout = DataLayout.published(blobs)
    video = layout.load_video("001", use_flow=True)
    config = TrainConfig(sequence_length=5, skip_frames=2, height=HEIGHT, width=WIDTH)
    sequences, dropped = make_sequences([video], config)
    # Frames 2-6, 7-11, 12-15 is too short: non-overlapping sequences after the skipped frames.
    assert [(s.start, s.length) for s in sequences] == [(2, 5), (7, 5)] and dropped == 0
    gap = DataLayout(frames=layout.frames, flow=layout.flow, gt=str(tmp_path / "{video}"))
    (tmp_path / "001").mkdir()
    for n in range(16):
        if n != 9:  # frame 9 has no ground truth
            (tmp_path / "001" / f"{n:04d}.png").write_bytes((blobs / "saliency_maps" / "001" / f"{n:04d}.png").read_bytes())
    sequences, dropped = make_sequences([gap.load_video("001", use_flow=True)], config)
    assert [s.start for s in sequences] == [2] and dropped == 1


def test_rotation_rolls_frames_flow_and_ground_truth_together(blobs: Path):
    config = TrainConfig(sequence_length=4, skip_frames=0, height=HEIGHT, width=WIDTH, seed=3)
    sequences, _ = make_sequences([DataLayout.published(blobs).load_video("002", use_flow=True)], config)
    plain_x, plain_y = SequenceDataset(sequences, config, rotate=False)[0]
    rolled_x, rolled_y = SequenceDataset(sequences, config, rotate=True)[(5, 0)]
    assert plain_x.shape == (4, 6, HEIGHT, WIDTH) and plain_y.shape == (4, 1, HEIGHT, WIDTH)
    shifts = [s for s in range(WIDTH) if torch.equal(torch.roll(plain_x, -s, dims=-1), rolled_x)]
    assert len(shifts) == 1 and shifts[0] != 0
    assert torch.equal(torch.roll(plain_y, -shifts[0], dims=-1), rolled_y)
    again_x, _ = SequenceDataset(sequences, config, rotate=True)[(5, 0)]
    assert torch.equal(again_x, rolled_x)  # a pure function of (seed, epoch, sequence): resumable


# --- learning, output, resuming ------------------------------------------------------------------


def _val_sequence(blobs: Path) -> tuple[torch.Tensor, np.ndarray]:
    config = TrainConfig(sequence_length=8, skip_frames=0, height=HEIGHT, width=WIDTH)
    sequences, _ = make_sequences([DataLayout.published(blobs).load_video("001", use_flow=True)], config)
    x, y = SequenceDataset(sequences, config, rotate=False)[1]
    return x[None], y[:, 0].numpy()


@pytest.mark.slow
def test_training_lowers_validation_loss_and_the_result_predicts(trained: Path, blobs: Path, tmp_path: Path):
    log = read_loss_log(trained)
    assert [row["epoch"] for row in log] == [0, 1, 2]
    assert math.isnan(log[0]["train_loss"])
    assert log[0]["val_sequences"] == 2 and log[0]["train_sequences"] == 8  # video 001 validates (published split)
    assert log[2]["val_loss"] < 0.5 * log[0]["val_loss"]
    assert log[2]["train_loss"] < log[1]["train_loss"]

    # The saved weights load like any checkpoint and beat the untrained model on held-out video 001.
    model = load_model(trained / "model.safetensors")
    assert (model.input_channels, model.hidden_channels) == (6, 8)
    torch.manual_seed(0)
    untrained = type(model)(input_channels=6, hidden_channels=8).eval()
    x, gt = _val_sequence(blobs)
    with torch.no_grad():
        ours = model(x)[0, :, 0].numpy()
        before = untrained(x)[0, :, 0].numpy()
    cc_after = np.mean([metrics.cc(ours[t], gt[t], sphere=True) for t in range(4, 8)])
    cc_before = np.mean([metrics.cc(before[t], gt[t], sphere=True) for t in range(4, 8)])
    assert cc_after > 0.5 and cc_after > cc_before + 0.2

    # sstsal predict takes the result as --checkpoint.
    out = tmp_path / "pred"
    code = main(["predict", "--frames", str(blobs / "frames" / "001"), "--flow", str(blobs / "optical_flow" / "001"),
                 "--checkpoint", str(trained / "model.safetensors"), "--out", str(out), "--device", "cpu"])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == [f"001_{n:04d}.png" for n in range(16)]


@pytest.mark.slow
def test_resuming_gives_the_same_weights_as_an_uninterrupted_run(trained: Path, blobs: Path, tmp_path: Path):
    out = tmp_path / "resumed"
    assert main(["train", "--data", str(blobs), "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert main(["train", "--resume", "--epochs", "2", "--out", str(out), "--workers", "0", "--device", "cpu"]) == 0
    straight, resumed = load_file(trained / "model.safetensors"), load_file(out / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    np.testing.assert_equal(strip(read_loss_log(out)), strip(read_loss_log(trained)))  # NaN == NaN here


@pytest.mark.slow
def test_a_killed_run_resumes_mid_epoch_to_the_same_weights(trained: Path, blobs: Path, tmp_path: Path):
    out = tmp_path / "killed"
    # Checkpoint after every step (0.0001 minutes), then kill -9 in the middle of the first epoch.
    command = [sys.executable, "-m", "sstsal", "train", "--data", str(blobs), "--epochs", "30", "--out", str(out),
               "--checkpoint-minutes", "0.0001", *TINY]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (out / CHECKPOINT).exists() and torch.load(out / CHECKPOINT, weights_only=True)["step"] >= 3:
                break
            time.sleep(0.1)
        assert process.poll() is None, process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    state = torch.load(out / CHECKPOINT, weights_only=True)  # the file a kill left behind is whole
    assert state["epoch"] < 2, "the kill came too late for this test"
    assert not (out / "model.safetensors").exists()
    code = main(["train", "--resume", "--epochs", "2", "--out", str(out), "--workers", "0", "--device", "cpu"])
    assert code == 0
    straight, resumed = load_file(trained / "model.safetensors"), load_file(out / "model.safetensors")
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    assert [row["epoch"] for row in read_loss_log(out)] == [0, 1, 2]
    assert read_loss_log(out)[1]["train_loss"] == read_loss_log(trained)[1]["train_loss"]


@pytest.mark.slow
def test_training_errors_are_clear(blobs: Path, trained: Path, tmp_path: Path, capsys):
    assert main(["train", "--data", str(blobs), "--epochs", "1", "--out", str(trained), *TINY]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "say where the data is" in capsys.readouterr().err
    assert main(["train", "--data", str(blobs), "--no-flow", "--init", str(trained / "model.safetensors"),
                 "--out", str(tmp_path / "y"), *TINY]) == 2  # fmt: skip
    assert "takes 6 input channels" in capsys.readouterr().err
    assert main(["train", "--data", str(blobs), "--sequence-length", "40", "--out", str(tmp_path / "z"), "--skip-frames", "0",
                 "--resolution", "24x48", "--workers", "0"]) == 2  # fmt: skip
    assert "no complete 40-frame sequence" in capsys.readouterr().err
    with pytest.raises(InputError, match="even"):
        TrainConfig(height=25).check()


@pytest.mark.slow
def test_fine_tuning_starts_from_the_published_checkpoint(blobs: Path, tmp_path: Path):
    published = shared_dir() / "models" / "SST_Sal.pth"
    assert published.is_file(), f"missing {published} (see tests/testdata.py)"
    out = tmp_path / "tuned"
    tiny = TINY[: TINY.index("--hidden")] + TINY[TINY.index("--hidden") + 2 :]  # the published width, 36
    split = tmp_path / "split.txt"
    split.write_text("001\n002\n003\n")  # 001 validates; a short run at the published width
    assert main(["train", "--data", str(blobs), "--train-split", str(split), "--init", str(published),
                 "--epochs", "1", "--lr", "0.1", "--out", str(out), *tiny]) == 0  # fmt: skip
    start, tuned = load_model(published), load_model(out / "model.safetensors")
    assert (tuned.input_channels, tuned.hidden_channels) == (6, 36)
    start_state, tuned_state = start.state_dict(), tuned.state_dict()
    changed = [name for name in start_state if not torch.equal(start_state[name], tuned_state[name])]
    assert changed  # trained ...
    # ... from the published weights, not from scratch: still close to them.
    for name in start_state:
        assert (start_state[name] - tuned_state[name]).norm() < 0.5 * start_state[name].norm(), name
    log = read_loss_log(out)
    assert log[1]["val_loss"] < log[0]["val_loss"]
