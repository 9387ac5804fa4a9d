"""``sstsal flow``: colour-coded optical flow images for a folder of frames."""

from __future__ import annotations

import argparse
import sys

# Choices and defaults come from the settings object, which is also what checks the values.
from sstsal.flow.settings import COLOR_ORDERS, METHOD_CHOICES, PRECISIONS, SEAM_MODES, FlowSettings

DEFAULTS = FlowSettings()


def run(args: argparse.Namespace) -> int:
    from sstsal.flow.engines import RAW_NPZ, compute_flow_folder
    from sstsal.flow.settings import FlowSettings

    names = compute_flow_folder(
        args.frames,
        args.out,
        FlowSettings.from_cli(args),
        save_raw=args.save_raw,
        raw_npy_dir=args.raw_npy,
        progress=not args.no_progress,
    )
    extra = f" and {args.out}/{RAW_NPZ}" if args.save_raw else ""
    print(f"ok: {len(names)} flow images in {args.out}{extra}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "flow",
        help="optical flow images (RAFT, DIS or Farneback) for a folder of frames",
        description="Compute the flow from each frame to the next (the last frame repeats the previous flow) and "
        "write it colour-coded (torchvision flow_to_image) at 320x240 under the frame's name in OUT. "
        "RAFT is what SST-Sal was trained with; on CPU it is slow, DIS is the quick choice.",
    )
    parser.add_argument("--frames", required=True, help="folder of one video's frames <video>_<number>.png")
    parser.add_argument("--out", required=True, help="output folder (created, or replaced as a whole)")
    parser.add_argument(
        "--method", default=DEFAULTS.method, choices=METHOD_CHOICES,
        help="flow engine (default raft; auto = raft on CUDA, dis otherwise)",
    )
    parser.add_argument(
        "--checkpoint", default=DEFAULTS.checkpoint,
        help="RAFT weights: a raft-sintel.pth (or torchvision raft_large) file, 'raft-sintel' (a local copy in the "
        "model folder), 'torchvision' (Raft_Large_Weights.C_T_SKHT_V1, downloaded once) or 'auto' (default: "
        "the local raft-sintel.pth if there is one, else torchvision's)",
    )
    parser.add_argument(
        "--width", type=int,
        help="working width of the flow computation (default: the frames' width; never upscaled); the published "
        "advice is as high as possible, e.g. 2048",
    )
    parser.add_argument("--iters", type=int, default=DEFAULTS.iters, help="RAFT iterations (default 20, as published)")
    parser.add_argument(
        "--seam", default=DEFAULTS.seam, choices=SEAM_MODES,
        help="left/right edge handling: pad (wrap-around padding to a multiple of 8) or wrap (also a circular "
        "margin on both sides, so motion across the seam is found)",
    )
    parser.add_argument("--seam-margin", type=int, help="margin in pixels for --seam wrap (default: width/16)")
    parser.add_argument("--device", default=DEFAULTS.device, help="auto (CUDA if available), cpu, cuda or cuda:N")
    parser.add_argument(
        "--precision", default=DEFAULTS.precision, choices=PRECISIONS,
        help="RAFT arithmetic: fp32, or mixed precision bf16 (CUDA or CPU) / fp16 (CUDA): faster on a GPU, "
        "slightly different flow",
    )
    parser.add_argument("--batch-size", type=int, help="RAFT pairs per batch (default: as many as fit)")
    parser.add_argument(
        "--color-order", default=DEFAULTS.color_order, choices=COLOR_ORDERS,
        help="rgb: PNGs show flow_to_image's true colours; swapped: red and blue exchanged (see docs/flow.md)",
    )
    parser.add_argument(
        "--save-raw", action="store_true",
        help="also write OUT/flow.npz: float32 (H, W, 2) flow at the working resolution per frame name",
    )
    parser.add_argument("--raw-npy", metavar="DIR", help="also write DIR/<frame>.npy, float16 (H, W, 2) flow")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
