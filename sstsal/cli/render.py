"""``sstsal render``: the overlay video of a source video and its saliency maps."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def check_video_and_maps(video: str, maps: str, *, folder_ok: bool) -> None:
    """Refuse a missing source video or saliency stack before any work (one ``error:`` line)."""
    from sstsal.errors import InputError

    if not Path(video).is_file():
        raise InputError(f"video {video} does not exist: give the source video the maps were computed on")
    wanted = "the video's saliency.npz (results/<video>/)" + (" or a folder of saliency PNGs" if folder_ok else "")
    if not Path(maps).exists():
        raise InputError(f"--maps {maps} does not exist: give {wanted}")
    if (Path(maps).is_dir() and not folder_ok) or (Path(maps).is_file() and Path(maps).suffix.lower() != ".npz"):
        raise InputError(f"--maps {maps} is no saliency stack: give {wanted}")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from sstsal.media.render import render_overlay

    check_video_and_maps(args.video, args.maps, folder_ok=True)
    stack = args.maps
    with tempfile.TemporaryDirectory() as tmp:
        if Path(args.maps).is_dir():
            # a folder of 8-bit saliency PNGs: stack them (the PNG levels are already min-max scaled)
            import cv2

            from sstsal.media.naming import list_frames
            from sstsal.media.saliency_stack import StackWriter

            frames = list_frames(args.maps)
            stack = Path(tmp) / "maps.npz"
            first = cv2.imread(str(Path(args.maps) / frames[0].filename), cv2.IMREAD_GRAYSCALE)
            with StackWriter(stack, [f.stem for f in frames], shape=first.shape) as out:  # one PNG at a time
                for f in frames:
                    out.append(cv2.imread(str(Path(args.maps) / f.filename), cv2.IMREAD_GRAYSCALE).astype(np.float32))
        render_overlay(args.video, stack, args.out, width=args.width, alpha=args.alpha, colormap=args.colormap,
                       interpolate=args.interpolate, progress=sys.stderr.isatty())  # fmt: skip
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="overlay saliency maps on the source video (H.264 MP4)",
        description="Blend every source frame with the heatmap of the latest sampled frame (inferno, alpha 0.5 "
        "as published), keep the source frame rate, duration and audio.",
    )
    parser.add_argument("video", help="the source video")
    parser.add_argument("--maps", required=True, help="saliency.npz stack, or a folder of saliency PNGs <video>_<index>.png")
    parser.add_argument("--out", required=True, help="output .mp4")
    parser.add_argument("--width", type=int, help="output width (default: source width, at most 1920)")
    parser.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity (default 0.5)")
    parser.add_argument("--colormap", default="inferno", help="matplotlib colormap (default inferno)")
    parser.add_argument("--interpolate", action="store_true", help="interpolate maps between sampled frames")
    parser.set_defaults(func=run)
