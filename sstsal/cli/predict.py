"""``sstsal predict``: saliency maps for one video's frames folder."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict a saliency map for every frame of one video",
        description="Predict SST-Sal saliency maps. FRAMES holds one video's frames <video>_<number>.png; "
        "FLOW holds the colour-coded optical-flow images with identical names.",
    )
    p.add_argument("--frames", required=True, metavar="DIR", help="folder of frames <video>_<number>.png")
    p.add_argument("--flow", metavar="DIR", help="folder of flow images with the same names (not with --no-flow)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: <frame name>.png per frame")
    p.add_argument("--checkpoint", metavar="FILE", help="SST-Sal .pth or .safetensors (default: the published one)")
    p.add_argument("--no-flow", action="store_true", help="use the model without optical flow (frames only)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, metavar="N", help="windows per batch (default: 2 on CPU, 16 on CUDA)")
    p.add_argument("--save-raw", action="store_true", help="also write OUT/raw.npz with the float32 model outputs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sstsal.model.predictor import SaliencyPredictor, folder_inputs
    from sstsal.model.settings import InferenceSettings

    settings = InferenceSettings.from_cli(args)
    inputs = folder_inputs(args.frames, args.out, None if args.no_flow else args.flow, uses_flow=settings.uses_flow)
    predictor = SaliencyPredictor.from_settings(settings)
    # each map goes to its PNG (and raw.npz) as it is produced: none is held
    count = predictor.stream_folder(inputs, args.out, save_raw=args.save_raw, progress=sys.stderr.isatty())
    print(f"wrote {count} saliency maps to {args.out}")
    return 0
