"""SST-Sal inference speed: the straightforward formulation against ours, in one run.

Straightforward: ``grid_sample`` on the 3x tap grid then a stride-3 ``conv2d`` for every
spherical convolution and pooling, one 20-frame window at a time (the published way).
Ours: :class:`sstsal.model.network.SSTSal` (sparse sampling + one matrix multiply, input gates of
all frames at once, windows batched). Both see the same windows and the same weights; the
script prints frames per second (model steps), the ratio and the largest difference.

    python benchmarks/bench_inference.py [--windows 6] [--device cpu|cuda] [--batch-size N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

# The published formulation lives with the tests (it is their yardstick, not part of the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_model import reference_forward  # noqa: E402

from sstsal.devices import resolve_device  # noqa: E402
from sstsal.model.checkpoint import load_model  # noqa: E402
from sstsal.model.predictor import WINDOW, default_batch_size  # noqa: E402
from sstsal.model.weights import checkpoint_path  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device) -> tuple[float, torch.Tensor]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=6, help="number of 20-frame windows (default 6)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, help="windows per batch for ours (default: 2 on CPU, 16 on CUDA)")
    parser.add_argument("--checkpoint", help="default: the published SST_Sal.pth")
    parser.add_argument("--no-flow", action="store_true", help="benchmark the model without flow")
    args = parser.parse_args()

    device = resolve_device(args.device)
    # TF32 convolutions would make the straightforward side inexact (about 1e-2 off): compare fp32 with fp32.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    name = "SST_Sal_wo_OF.pth" if args.no_flow else "SST_Sal.pth"
    model = load_model(args.checkpoint or checkpoint_path(name)).to(device).eval()
    batch = args.batch_size or default_batch_size(device)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(args.windows, WINDOW, model.input_channels, 240, 320, generator=generator).to(device)
    steps = args.windows * WINDOW

    with torch.inference_mode():
        # Warm-up, so that both sides are timed in their steady state: sampling grids and
        # sparse matrices built, buffers of a full batch allocated.
        reference_forward(model, x[:1, :2])
        model(x[:batch])

        t_ref, ref = _time(lambda: torch.cat([reference_forward(model, x[i : i + 1]) for i in range(args.windows)]), device)
        t_ours, ours = _time(lambda: torch.cat([model(x[i : i + batch]) for i in range(0, args.windows, batch)]), device)

    diff = (ref - ours).abs().max().item()
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'})")
    print(f"model: {name}, {args.windows} windows x {WINDOW} frames at 240x320, our batch size {batch}")
    print(f"straightforward (grid_sample + conv2d, one window at a time): {t_ref:8.2f} s  {steps / t_ref:8.2f} frames/s")
    print(f"sstsal (sparse sampling + matmul, batched windows):           {t_ours:8.2f} s  {steps / t_ours:8.2f} frames/s")
    print(f"speed-up: {t_ref / t_ours:.2f}x   max |difference|: {diff:.2e}")


if __name__ == "__main__":
    main()
