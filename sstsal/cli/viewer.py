"""``sstsal viewer``: the 360-degree viewer page of a video and its saliency."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from sstsal.cli.director import settings_from
    from sstsal.cli.render import check_video_and_maps
    from sstsal.errors import InputError
    from sstsal.media.video import probe_video
    from sstsal.viewing.director import write_director_path
    from sstsal.viewing.viewer import ViewerSettings, make_viewer

    check_video_and_maps(args.video, args.maps, folder_ok=True)

    settings = ViewerSettings(width=args.encode_width, crf=args.crf, preset=args.preset, alpha=args.alpha,
                              colormap=args.colormap, embed_mb=args.embed_mb)  # fmt: skip
    path_csv = args.path
    if path_csv is None and Path(args.maps).is_dir():
        path_csv = Path(args.maps).parent / "director.csv"  # the workflow's results/NAME/ layout
        if not path_csv.is_file():
            raise InputError(f"no director.csv beside {args.maps}: give --path (sstsal director writes one), "
                             "or --maps saliency.npz to compute the path here")  # fmt: skip
    info = probe_video(args.video)
    with tempfile.TemporaryDirectory() as scratch:
        if path_csv is None:  # no director.csv at hand: the same path, computed here
            path_csv = Path(scratch) / "director.csv"
            write_director_path(args.maps, info, path_csv, settings_from(args))
        make_viewer(args.video, args.maps, path_csv, args.out, settings=settings, info=info,
                    progress=sys.stderr.isatty())  # fmt: skip
    out = Path(args.out)
    if out.with_suffix(".mp4").stat().st_size <= settings.embed_mb * 1e6:  # as make_viewer decides
        print(f"wrote {out}: open it in a browser (it needs no network); {out.with_suffix('.mp4')} and "
              f"{out.with_suffix('.json')} beside it are its video and data", file=sys.stderr)  # fmt: skip
    else:
        print(f"wrote {out} with {out.with_suffix('.mp4')} and {out.with_suffix('.json')} beside it (the video is "
              f"over --embed-mb): open it with  sstsal view {out}", file=sys.stderr)  # fmt: skip
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sstsal.cli.director import add_camera_options

    parser = subparsers.add_parser(
        "viewer",
        help="interactive 360-degree viewer page with the saliency heatmap",
        description="Write an HTML page that plays the video on the inside of a sphere with the saliency "
        "heatmap on top: drag or arrow keys to look around, scroll to zoom, a timeline of where the saliency "
        "peaks, and a 'follow saliency' button that steers along the director's path. Its video (OUT's name "
        "with .mp4) and data (.json) are written beside it. A video up to --embed-mb also goes inside the page, "
        "so it opens from disk, offline, anywhere; a larger one plays from beside the page: open it with "
        "`sstsal view OUT`.",
    )
    parser.add_argument("video", help="the source video (equirectangular)")
    parser.add_argument("--maps", required=True, help="the video's saliency/ folder (one PNG per sampled frame, read "
                        "one at a time) or saliency.npz")  # fmt: skip
    parser.add_argument("--out", required=True, help="output .html")
    parser.add_argument("--path", help="director.csv to follow (default: the one beside a saliency/ folder, or "
                        "computed from saliency.npz with the camera options below)")  # fmt: skip
    parser.add_argument("--encode-width", type=int, default=1024, help="width of the embedded video (default 1024)")
    parser.add_argument("--crf", type=int, default=30, help="x264 quality of the embedded video (default 30)")
    parser.add_argument("--preset", default="medium", choices=["ultrafast", "superfast", "veryfast", "faster", "fast",
                        "medium", "slow", "slower", "veryslow"], help="x264 speed of the embedded video (default medium)")  # fmt: skip
    parser.add_argument("--alpha", type=float, default=0.5, help="initial heatmap opacity (default 0.5)")
    parser.add_argument("--colormap", default="inferno", help="matplotlib colormap (default inferno)")
    parser.add_argument("--embed-mb", type=float, default=50.0,
                        help="largest video (MB) carried inside the page (default 50); 0: always beside it")  # fmt: skip
    add_camera_options(parser)
    parser.set_defaults(func=run)
