"""``sstsal viewer``: the self-contained 360-degree viewer page of a video and its saliency."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from sstsal.cli.director import settings_from
    from sstsal.cli.render import check_video_and_maps
    from sstsal.media.video import probe_video
    from sstsal.viewing.director import write_director_path
    from sstsal.viewing.viewer import ViewerSettings, make_viewer

    check_video_and_maps(args.video, args.maps, folder_ok=False)

    settings = ViewerSettings(width=args.encode_width, crf=args.crf, alpha=args.alpha, colormap=args.colormap)
    info = probe_video(args.video)
    with tempfile.TemporaryDirectory() as scratch:
        path_csv = args.path
        if path_csv is None:  # no director.csv at hand: the same path, computed here
            path_csv = Path(scratch) / "director.csv"
            write_director_path(args.maps, info, path_csv, settings_from(args))
        make_viewer(args.video, args.maps, path_csv, args.out, settings=settings, info=info,
                    progress=sys.stderr.isatty())  # fmt: skip
    print(f"wrote {args.out}: open it in a browser (it needs no network)", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sstsal.cli.director import add_camera_options

    parser = subparsers.add_parser(
        "viewer",
        help="interactive 360-degree viewer page with the saliency heatmap (one HTML file)",
        description="Write one HTML file that plays the video on the inside of a sphere with the saliency "
        "heatmap on top: drag or arrow keys to look around, scroll to zoom, a timeline of where the saliency "
        "peaks, and a 'follow saliency' button that steers along the director's path. The video is inside the "
        "page, so it opens from disk, offline, anywhere.",
    )
    parser.add_argument("video", help="the source video (equirectangular)")
    parser.add_argument("--maps", required=True, help="saliency.npz of the video")
    parser.add_argument("--out", required=True, help="output .html")
    parser.add_argument("--path", help="director.csv to follow (default: computed with the camera options below)")
    parser.add_argument("--encode-width", type=int, default=1024, help="width of the embedded video (default 1024)")
    parser.add_argument("--crf", type=int, default=30, help="x264 quality of the embedded video (default 30)")
    parser.add_argument("--alpha", type=float, default=0.5, help="initial heatmap opacity (default 0.5)")
    parser.add_argument("--colormap", default="inferno", help="matplotlib colormap (default inferno)")
    add_camera_options(parser)
    parser.set_defaults(func=run)
