"""``sstsal director``: a normal-field-of-view video whose camera follows the saliency."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def settings_from(args: argparse.Namespace):
    from sstsal.viewing.camera import DirectorSettings

    return DirectorSettings(width=args.width, height=args.height, fov=args.fov, smoothing_s=args.smoothing,
                            max_speed=args.max_speed, max_accel=args.max_accel, cut_angle=args.cut_angle,
                            cut_after_s=args.cut_after)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from sstsal.cli.render import check_video_and_maps
    from sstsal.viewing.director import make_director_cut

    check_video_and_maps(args.video, args.maps, folder_ok=False)

    out = Path(args.out)
    csv = Path(args.csv) if args.csv else out.with_suffix(".csv")
    measures = make_director_cut(args.video, args.maps, out, csv, settings=settings_from(args), crf=args.crf,
                                 preset=args.preset, progress=sys.stderr.isatty())  # fmt: skip
    print(measures.describe())
    print(f"wrote {out} and {csv}", file=sys.stderr)
    return 0


def add_camera_options(parser: argparse.ArgumentParser) -> None:
    """The camera's options (shared with ``sstsal viewer``, which follows the same path)."""
    from sstsal.viewing.camera import DirectorSettings

    d = DirectorSettings()
    parser.add_argument("--width", type=int, default=d.width, help=f"output width (default {d.width})")
    parser.add_argument("--height", type=int, default=d.height, help=f"output height (default {d.height})")
    parser.add_argument("--fov", type=float, default=d.fov, help=f"horizontal field of view, degrees (default {d.fov:g})")
    parser.add_argument("--smoothing", type=float, default=d.smoothing_s,
                        help=f"time smoothing of the saliency, seconds (default {d.smoothing_s:g})")  # fmt: skip
    parser.add_argument("--max-speed", type=float, default=d.max_speed, help=f"deg/s (default {d.max_speed:g})")
    parser.add_argument("--max-accel", type=float, default=d.max_accel, help=f"deg/s^2 (default {d.max_accel:g})")
    parser.add_argument("--cut-angle", type=float, default=d.cut_angle,
                        help=f"cut when the target is further than this, degrees (default {d.cut_angle:g})")  # fmt: skip
    parser.add_argument("--cut-after", type=float, default=d.cut_after_s,
                        help=f"... for this many seconds (default {d.cut_after_s:g})")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "director",
        help="director's cut: a normal video whose camera follows the saliency (MP4 + CSV path)",
        description="Render a normal-field-of-view video from the full-resolution 360-degree source, its virtual "
        "camera following the saliency smoothly (bounded speed and acceleration) and cutting when attention "
        "jumps far and stays; source frame rate, duration and audio. Prints the saliency at the view centre "
        "relative to the mean and the largest angular speed between cuts.",
    )
    parser.add_argument("video", help="the source video (equirectangular)")
    parser.add_argument("--maps", required=True, help="saliency.npz of the video (sstsal predict --save-raw, or the workflow's)")
    parser.add_argument("--out", required=True, help="output .mp4")
    parser.add_argument("--csv", help="camera path, one row per frame (default: OUT with .csv)")
    add_camera_options(parser)
    parser.add_argument("--crf", type=int, default=20, help="x264 quality (default 20)")
    parser.add_argument("--preset", default="medium", help="x264 preset (default medium)")
    parser.set_defaults(func=run)
