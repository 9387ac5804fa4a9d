"""RAFT flow speed: plain pair-by-pair torchvision RAFT versus sstsal's RaftFlow, same run.

Plain is what a straightforward script does: ``raft_large(image1, image2,
num_flow_updates=iters)[-1]`` for each consecutive pair (both frames encoded for every pair,
the flow upsampled at every iteration). Ours encodes each frame once, batches pairs, upsamples
once and frees the correlation pyramid between batches. Both read the same uint8 frames and
return the flow on the CPU. Prints pairs per second and the ratio; with --precision bf16/fp16
(CUDA) also the flow's difference from our fp32 flow.

    python benchmarks/bench_flow.py                        # CPU, 512x256
    python benchmarks/bench_flow.py --device cuda --sizes 1024x512 2048x1024 --precision fp32 bf16 fp16

Timings vary with the machine's load: compare ratios from one run, not across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sstsal.devices import resolve_device  # noqa: E402
from sstsal.flow.raft import RaftFlow, load_raft  # noqa: E402

SHARED = Path(os.environ.get("SSTSAL_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def pan_frames(width: int, height: int, count: int, step: int) -> list[np.ndarray]:
    """uint8 RGB frames of an equirectangular image turning about the vertical axis."""
    source = SHARED / "fixtures" / "raft-golden" / "room_frame1.png"
    image = cv2.imread(str(source))
    if image is None:
        rng = np.random.default_rng(0)
        image = cv2.GaussianBlur(rng.integers(0, 255, (256, 512, 3), dtype=np.uint8), (0, 0), 3)
    image = np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, ::-1])
    return [np.ascontiguousarray(np.roll(image, step * i, axis=1)) for i in range(count)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _set_tf32(cudnn: bool, matmul: bool) -> None:
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = cudnn, matmul


def plain_pairs(model, frames, iters: int, device: torch.device) -> list[np.ndarray]:
    """Pair by pair with torchvision's forward, as a straightforward script would."""
    flows = []
    # fp32 on both sides: ours switches off cuDNN's default TF32 convolutions, so plain must too
    # or the ratio would compare precisions rather than implementations.
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    with torch.inference_mode(), contextlib.ExitStack() as restore:
        restore.callback(lambda: _set_tf32(*saved))
        for a, b in zip(frames[:-1], frames[1:]):
            one = torch.from_numpy(a).permute(2, 0, 1)[None].float().to(device)
            two = torch.from_numpy(b).permute(2, 0, 1)[None].float().to(device)
            flow = model(2 * (one / 255.0) - 1.0, 2 * (two / 255.0) - 1.0, num_flow_updates=iters)[-1]
            flows.append(flow[0].permute(1, 2, 0).cpu().numpy())
    return flows


def timed(fn, device: torch.device, repeat: int):
    """(best seconds, result, peak bytes on CUDA) of ``repeat`` runs."""
    best, result, peak = float("inf"), None, 0
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
        if device.type == "cuda":
            peak = max(peak, torch.cuda.max_memory_allocated(device))
    return best, result, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sizes", nargs="+", default=["512x256"], help="WxH working sizes")
    parser.add_argument("--pairs", type=int, default=6, help="frame pairs per timing (frames = pairs + 1)")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=int, help="pairs per batch for ours (default: as many as fit)")
    parser.add_argument("--repeat", type=int, default=2, help="timings per variant; the best is reported")
    parser.add_argument(
        "--checkpoint", default=str(SHARED / "fixtures" / "raft-golden" / "raft-random-init.pth"),
        help="RAFT weights (speed does not depend on them; default: the random-weight fixture)",
    )
    parser.add_argument("--no-plain", action="store_true", help="skip plain torchvision (e.g. sizes it cannot fit)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    model = load_raft(args.checkpoint, device=device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; {args.pairs} pairs per timing, {args.iters} iterations, best of {args.repeat}")
    header = f"{'size':>10} {'variant':>14} {'pairs/s':>8} {'vs plain':>8} {'peak GiB':>8} {'max|d| px':>9} {'mean|d| px':>10}"
    print(header)
    for size in args.sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        frames = pan_frames(width, height, args.pairs + 1, step=max(1, width // 128))
        variants: dict[str, object] = {}
        if not args.no_plain:
            variants["plain tv"] = lambda frames=frames: plain_pairs(model, frames, args.iters, device)
        engines = {}
        for precision in args.precision:
            engine = RaftFlow(model, device=device, iters=args.iters, precision=precision, batch_size=args.batch_size)
            engines[precision] = engine
            variants[f"ours {precision}"] = lambda engine=engine, frames=frames: list(engine.pairs(frames))
        # warm-up: kernels, the allocator, cuDNN's choices
        if not args.no_plain:
            plain_pairs(model, frames[:2], args.iters, device)
        for engine in engines.values():
            list(engine.pairs(frames[:2]))
        # Interleaved repeats, best of each: a machine whose load changes during the run
        # then biases no variant.
        best = {name: (float("inf"), None, 0) for name in variants}
        for _ in range(args.repeat):
            for name, run in variants.items():
                seconds, result, peak = timed(run, device, 1)
                if name == "plain tv":
                    model.corr_block.corr_pyramid = [torch.tensor(0)]  # what plain left behind
                old = best[name]
                best[name] = (min(old[0], seconds), result, max(old[2], peak))
        plain_rate = args.pairs / best["plain tv"][0] if "plain tv" in best else None
        reference = best.get("ours fp32", (0, None, 0))[1]
        for name, (seconds, flows, peak) in best.items():
            rate = args.pairs / seconds
            ratio = f"{rate / plain_rate:8.2f}" if plain_rate else f"{'-':>8}"
            diff = ""
            if name.startswith("ours") and name != "ours fp32" and reference is not None:
                delta = np.stack(flows) - np.stack(reference)
                diff = f"{np.abs(delta).max():9.3f} {np.linalg.norm(delta, axis=-1).mean():10.4f}"
            label = name
            if name.startswith("ours"):
                label = f"{name} b{engines[name.split()[1]].plan.batch_size}"
            print(f"{size:>10} {label:>14} {rate:8.3f} {ratio} {peak / 2**30:8.2f} {diff}", flush=True)
        for precision, engine in engines.items():
            if device.type == "cuda" and engine.plan is not None:
                plan = engine.plan.memory
                estimate = plan.fixed + plan.per_pair * plan.batch_size
                print(f"{'':>10} memory estimate for ours {precision}: {estimate / 2**30:.2f} GiB (batch {plan.batch_size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
