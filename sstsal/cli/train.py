"""``sstsal train``: train or fine-tune SST-Sal with the published recipe (resumable)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sstsal.errors import InputError


def _resolution(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 240x320, got {text!r}")
    return int(match[1]), int(match[2])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train or fine-tune SST-Sal on saliency data (published recipe, resumable)",
        description=(
            "Train SST-Sal with the published recipe (spherical KL loss, SGD lr 0.8, 20-frame sequences, "
            "random rotation about the vertical axis, validation split by video). Data in the published layout "
            "(--data ROOT with frames/, optical_flow/, saliency_maps/) or as folder patterns with {video} "
            "(e.g. the workflow's --frames 'results/{video}/frames' --flow 'results/{video}/flow' --gt GT). "
            "Writes OUT/model.safetensors (last epoch), OUT/best.safetensors (lowest validation loss), "
            "OUT/losses.csv and OUT/checkpoint.pt; continue a killed run with --resume."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, metavar="ROOT", help="published layout: ROOT/frames, ROOT/optical_flow, ROOT/saliency_maps")
    data.add_argument("--frames", metavar="PATTERN", help="frame folders, e.g. 'results/{video}/frames' (or a root holding <video>/)")
    data.add_argument("--flow", metavar="PATTERN", help="flow-image folders, same file names as the frames")
    data.add_argument("--gt", metavar="PATTERN", help="ground-truth map folders (<frame number>.png or <video>_<number>.png)")
    data.add_argument("--train-split", type=Path, metavar="FILE", help="training video names, one per line (default: every video found)")
    data.add_argument("--val-split", type=Path, metavar="FILE", help="validation video names (default: the first --val-fraction of the training list)")
    data.add_argument("--val-fraction", type=float, default=0.2, help="share of training videos held out for validation (default 0.2)")
    data.add_argument("--resolution", type=_resolution, default=(240, 320), metavar="HxW", help="training size (default 240x320, the model's)")
    data.add_argument("--sequence-length", type=int, default=20, help="frames per sequence (default 20)")
    data.add_argument("--skip-frames", type=int, default=20, help="frames skipped at the start of each video (default 20)")
    recipe = parser.add_argument_group("recipe")
    recipe.add_argument("--epochs", type=int, help="default 240 (published); with --resume: extend or shorten the run")
    recipe.add_argument("--lr", type=float, default=0.8, help="SGD learning rate (default 0.8, published)")
    recipe.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0, published)")
    recipe.add_argument("--batch-size", type=int, default=1, help="sequences per step (default 1, published)")
    recipe.add_argument("--no-rotate", action="store_true", help="no random rotation about the vertical axis")
    recipe.add_argument("--no-flow", action="store_true", help="train the model without flow (3 input channels)")
    recipe.add_argument("--hidden", type=int, metavar="N", help="encoder hidden channels (default 36 with flow, 9 without)")
    recipe.add_argument("--init", type=Path, metavar="CHECKPOINT", help="fine-tune from these weights (.pth or .safetensors)")
    recipe.add_argument("--seed", type=int, default=0, help="seed of initial weights, order and rotations (default 0)")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder of the run")
    run_group.add_argument("--resume", action="store_true", help="continue the run in --out with its saved data and settings (only --epochs may change)")
    run_group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    run_group.add_argument("--workers", type=int, default=2, help="data-loading processes (default 2)")
    run_group.add_argument("--checkpoint-minutes", type=float, default=10.0, help="also checkpoint within an epoch this often (default 10)")
    run_group.add_argument("--tensorboard", action="store_true", help="also log to OUT/tensorboard (needs the tensorboard package)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sstsal.training.config import TrainConfig
    from sstsal.training.data import DataLayout, read_video_list
    from sstsal.training.loop import train

    if args.data is not None:
        if args.frames or args.gt:
            raise InputError("give either --data ROOT (published layout) or --frames/--gt patterns, not both")
        layout = DataLayout.published(args.data)
        if args.flow:
            layout.flow = args.flow
    elif args.frames and args.gt:
        layout = DataLayout(frames=args.frames, gt=args.gt, flow=args.flow)
    elif args.resume:
        layout = None  # the run's saved layout and split
    else:
        raise InputError("say where the data is: --data ROOT (published layout), or --frames and --gt (and --flow)")
    height, width = args.resolution
    config = TrainConfig(
        epochs=args.epochs or 240, lr=args.lr, momentum=args.momentum, batch_size=args.batch_size,
        sequence_length=args.sequence_length, skip_frames=args.skip_frames, val_fraction=args.val_fraction,
        height=height, width=width, rotate=not args.no_rotate, use_flow=not args.no_flow,
        hidden_channels=args.hidden, init=str(args.init) if args.init else None, seed=args.seed,
        checkpoint_minutes=args.checkpoint_minutes,
    )  # fmt: skip
    if args.resume and args.epochs is None:
        config = None  # keep the run's own number of epochs
    videos, val = None, None
    if args.train_split is not None:
        videos = read_video_list(args.train_split)
    elif layout is not None:
        videos = layout.discover_videos()
        if not videos:
            raise InputError(f"no video folders found: expected {layout.folder('frames', '<video>')}")
    if args.val_split is not None:
        val = read_video_list(args.val_split)
    result = train(
        layout, videos, args.out, config, val_videos=val, resume=args.resume, device=args.device,
        workers=args.workers, tensorboard=args.tensorboard,
    )  # fmt: skip
    print(f"wrote {result.final_weights} (use: sstsal predict --checkpoint {result.final_weights}"
          f"{' --no-flow' if not result.config.use_flow else ''} ...)")  # fmt: skip
    return 0
