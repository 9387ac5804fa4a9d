"""``sstsal extract``: sampled frames of one video, named ``<video>_<source frame index>.png``."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from sstsal.frame_size import MODEL_SIZE
    from sstsal.media.frames import extract_frames

    names = extract_frames(
        args.video,
        args.out,
        name=args.name,
        size=None if args.width else MODEL_SIZE,
        width=args.width,
        sampling=args.sampling,
        target_fps=args.fps,
        manifest=args.manifest,
        progress=sys.stderr.isatty(),
    )
    print(f"wrote {len(names)} frames to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract sampled frames of a video (model size 320x240 by default)",
        description="Decode VIDEO with the bundled ffmpeg and write the sampled frames to OUT, resized with "
        "INTER_AREA from the source resolution: 320x240 for the model, or --width W at the source aspect.",
    )
    parser.add_argument("video", help="the video file")
    parser.add_argument("--out", required=True, help="output folder (replaced as a whole when complete)")
    parser.add_argument("--name", help="video id used in the frame names (default: the file's stem)")
    parser.add_argument("--width", type=int, help="frames at most W wide at the source aspect instead of 320x240")
    parser.add_argument("--sampling", choices=["published", "exact"], default="published",
                        help="published: every round(fps/8)-th frame; exact: exactly --fps frames per second")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second for --sampling exact")
    parser.add_argument("--manifest", help="also write a JSON record of the video and the sampled frames")
    parser.set_defaults(func=run)
