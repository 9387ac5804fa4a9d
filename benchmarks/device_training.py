"""Device check of training on CUDA: speed, agreement with the CPU, learning, resuming.

Run from the repository root on a machine with a GPU (about a minute on an H100):

    python benchmarks/device_training.py [--device cuda]

Prints numbers only; nothing is asserted, so a slow or odd result is reported, not hidden.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from synthetic_saliency import write_moving_blobs  # noqa: E402

from sstsal.model.network import SSTSal  # noqa: E402
from sstsal.training.config import TrainConfig  # noqa: E402
from sstsal.training.data import DataLayout  # noqa: E402
from sstsal.training.loop import train  # noqa: E402
from sstsal.training.loss import spherical_kl_loss  # noqa: E402
from sstsal.training.state import read_loss_log  # noqa: E402


def step_seconds(device: torch.device, batch: int, repeats: int = 3) -> float:
    """Seconds of one SGD step (forward, loss, backward, update) on ``batch`` 20-frame sequences at 240x320."""
    torch.manual_seed(0)
    model = SSTSal(6, 36).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.8)
    x = torch.rand(batch, 20, 6, 240, 320, device=device)
    y = torch.rand(batch, 20, 240, 320, device=device)
    times = []
    for _ in range(repeats + 1):  # the first builds the sampling matrices
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad()
        spherical_kl_loss(model(x)[:, :, 0], y).sum().backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def cpu_agreement(device: torch.device) -> tuple[float, float]:
    """Relative difference of the loss and of the gradients between CPU and ``device`` (small input)."""
    torch.manual_seed(0)
    model = SSTSal(6, 36)
    x, y = torch.rand(1, 6, 6, 48, 64), torch.rand(1, 6, 48, 64)
    results = []
    for dev in (torch.device("cpu"), device):
        copy = SSTSal(6, 36).to(dev)
        copy.load_state_dict(model.state_dict())
        loss = spherical_kl_loss(copy(x.to(dev))[:, :, 0], y.to(dev)).sum()
        loss.backward()
        grad = torch.cat([p.grad.flatten().cpu() for p in copy.parameters()])
        results.append((loss.item(), grad))
    (l_cpu, g_cpu), (l_dev, g_dev) = results
    return abs(l_cpu - l_dev) / abs(l_cpu), float((g_cpu - g_dev).norm() / g_cpu.norm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run this on the GPU machine")
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}")

    loss_rel, grad_rel = cpu_agreement(device)
    print(f"CPU vs {device}: loss rel. diff {loss_rel:.2e}, gradient rel. diff {grad_rel:.2e}")
    for batch in (1, 4):
        seconds = step_seconds(device, batch)
        print(f"training step, batch {batch} x 20 frames at 240x320: {seconds:.3f} s "
              f"({batch * 20 / seconds:.1f} frames/s)")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "blobs"
        write_moving_blobs(root, videos=3, frames=40, height=240, width=320)
        layout = DataLayout.published(root)
        videos = ["001", "002", "003"]
        config = dict(sequence_length=20, skip_frames=0, val_fraction=0.34)  # video 001 validates
        quiet = lambda message: None  # noqa: E731
        start = time.perf_counter()
        straight = train(layout, videos, Path(tmp) / "straight", TrainConfig(epochs=4, **config),
                         device=args.device, workers=4, log=quiet)  # fmt: skip
        print(f"4 epochs of 4 sequences at 240x320: {time.perf_counter() - start:.1f} s")
        print("validation loss by epoch: " + ", ".join(f"{r['val_loss']:.5f}" for r in straight.log))
        train(layout, videos, Path(tmp) / "resumed", TrainConfig(epochs=2, **config), device=args.device, workers=4, log=quiet)
        train(None, None, Path(tmp) / "resumed", TrainConfig(epochs=4, **config), resume=True, device=args.device,
              workers=4, log=quiet)  # fmt: skip
        a = read_loss_log(Path(tmp) / "straight")[-1]["val_loss"]
        b = read_loss_log(Path(tmp) / "resumed")[-1]["val_loss"]
        from safetensors.torch import load_file

        wa = load_file(Path(tmp) / "straight" / "model.safetensors")
        wb = load_file(Path(tmp) / "resumed" / "model.safetensors")
        diff = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
        print(f"resumed after epoch 2 vs uninterrupted: final val loss {b:.6f} vs {a:.6f}, max weight diff {diff:.2e}")


if __name__ == "__main__":
    main()
