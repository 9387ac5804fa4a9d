"""``sstsal tiles``: the share of each segment's saliency per tile, and how likely a viewport overlaps each tile."""

from __future__ import annotations

import argparse
import sys


def _fov(text: str) -> tuple[float, float]:
    try:
        horizontal, vertical = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxV degrees such as 100x90, got {text!r}") from None
    return horizontal, vertical


def video_timing(args: argparse.Namespace):
    """(fps, frame count) from --video, --info or --fps/--frame-count."""
    from sstsal.errors import InputError
    from sstsal.media.video import VideoInfo, probe_video

    if args.info:
        info = VideoInfo.from_json(args.info)
        return info.fps, info.frame_count, info
    if args.video:
        info = probe_video(args.video)
        return info.fps, info.frame_count, info
    if args.fps and args.frame_count:
        return args.fps, args.frame_count, None
    raise InputError("give the video (--video FILE or --info video.json), or --fps and --frame-count")


def run(args: argparse.Namespace) -> int:
    from sstsal.streaming.tiles import TileSettings, write_tiles

    settings = TileSettings(segment_s=args.segment, layouts=tuple(args.layout or ["equirect:4x8"]), fov=args.fov)
    fps, frame_count, _ = video_timing(args)
    count = write_tiles(args.maps, args.out, fps=fps, frame_count=frame_count, settings=settings, plot=args.plot)
    print(f"wrote {args.out}: {count} segments of {settings.segment_s:g} s, layouts {', '.join(settings.layouts)}",
          file=sys.stderr)  # fmt: skip
    return 0


def add_timing_options(parser: argparse.ArgumentParser) -> None:
    timing = parser.add_argument_group("the video's timing (one of)")
    timing.add_argument("--video", help="the source video (its frame rate and length are read)")
    timing.add_argument("--info", help="the workflow's results/<video>/video.json")
    timing.add_argument("--fps", type=float, help="frame rate, with --frame-count")
    timing.add_argument("--frame-count", type=int, help="number of frames of the video")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tiles",
        help="tile scores per segment for tile-based streaming (tiles.csv)",
        description="For every segment of the video (aligned to its time) and every tile of each layout: the "
        "share of the segment's saliency in the tile (pixels weighted by solid angle; shares sum to 1 per "
        "segment) and the probability that a viewport of --fov, pointed as the saliency says, overlaps the "
        "tile. One CSV row per segment and tile; columns in docs/streaming.md.",
    )
    parser.add_argument("--maps", required=True,
                        help="saliency.npz of the video, or a folder of maps <video>_<frame>.png (e.g. ground truth)")  # fmt: skip
    parser.add_argument("--out", required=True, help="output tiles.csv")
    parser.add_argument("--plot", help="also a PNG of the first layout's shares over time")
    parser.add_argument("--segment", type=float, default=1.0, metavar="S", help="segment length, seconds (default 1)")
    parser.add_argument("--layout", action="append", metavar="LAYOUT",
                        help="equirect:ROWSxCOLS or cubemap:N (each face N x N); repeat for several (default equirect:4x8)")  # fmt: skip
    parser.add_argument("--fov", type=_fov, default=(100.0, 90.0), metavar="HxV",
                        help="viewport field of view, degrees (default 100x90)")  # fmt: skip
    add_timing_options(parser)
    parser.set_defaults(func=run)
