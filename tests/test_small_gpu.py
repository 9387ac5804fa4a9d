"""Small GPUs: RAFT at width 2048 either runs with what fits or stops before any work, naming the
memory one pair needs and what to lower; free memory simulated (SSTSAL_SIMULATED_FREE_GIB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import shared_path

from sstsal.errors import SstsalError
from sstsal.flow.raft import available_memory, check_memory, plan_memory

GIB = 1 << 30
REPO = Path(__file__).resolve().parents[1]


def test_8_gib_free_fits_one_pair_with_single_frame_encoding():
    plan = plan_memory(1024, 2048, available=8 * GIB)
    assert plan.batch_size == 1
    assert plan.encode_batch == 1  # four frames at a time would not fit
    assert plan.fixed + plan.per_pair <= 0.85 * 8 * GIB
    assert plan_memory(1024, 2048, available=40 * GIB).encode_batch == 4


def test_too_little_for_fp32_names_the_need_the_width_and_bf16():
    with pytest.raises(SstsalError) as caught:
        plan_memory(1024, 2048, available=int(7.5 * GIB), precision="fp32", device="cuda:0")
    message = str(caught.value)
    assert "needs about 6.6 GiB for one frame pair" in message
    assert "cuda:0 has only 7.5 GiB free" in message and "free the GPU of other programs" in message
    assert "lower flow.width (--width) to 1984 or less" in message
    assert "set flow.precision bf16" in message
    # the advice holds: bf16 fits at this size, and fp32 fits at the width it names
    assert plan_memory(1024, 2048, available=int(7.5 * GIB), precision="bf16").batch_size == 1
    assert plan_memory(992, 1984, available=int(7.5 * GIB)).batch_size == 1


def test_bf16_is_not_offered_when_it_would_not_fit_either():
    with pytest.raises(SstsalError) as caught:
        plan_memory(1024, 2048, available=5 * GIB)
    assert "flow.precision" not in str(caught.value)
    assert "flow.width (--width) to 1792 or less" in str(caught.value)


def test_simulated_free_memory(monkeypatch):
    monkeypatch.setenv("SSTSAL_SIMULATED_FREE_GIB", "7.5")
    assert available_memory(torch.device("cpu")) == int(7.5 * GIB)
    with pytest.raises(SstsalError, match="lower flow.width"):
        check_memory(1024, 2048, device="cpu")
    monkeypatch.setenv("SSTSAL_SIMULATED_FREE_GIB", "lots")
    with pytest.raises(SstsalError, match="give a number of GiB"):
        available_memory(torch.device("cpu"))


@pytest.mark.slow  # RAFT through the CLI
def test_flow_command_stops_before_any_work(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(frames / f"clip_{i:04d}.png"), rng.integers(0, 255, (1024, 2048, 3), dtype=np.uint8))
    out = tmp_path / "flow"
    env = dict(os.environ, SSTSAL_SIMULATED_FREE_GIB="6",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "sstsal", "flow", "--frames", str(frames), "--out", str(out), "--method", "raft",
         "--width", "2048", "--device", "cpu",
         "--checkpoint", str(shared_path("fixtures/raft-golden/raft-random-init.pth"))],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr  # the CLI's code for a refused input
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "needs about 6.6 GiB for one frame pair" in errors[0]
    assert "only 6.0 GiB free" in errors[0] and "flow.width (--width) to" in errors[0]
    assert not out.exists() and not any(p.name.startswith(".flow") for p in tmp_path.iterdir())
    assert "RAFT on cpu" not in result.stderr  # the engine never started
