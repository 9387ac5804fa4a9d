"""``sstsal encode``: the video re-encoded with quality moved to the tiles people look at, and a uniform encode of the same size."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from sstsal.errors import InputError
    from sstsal.media.video import VideoInfo, probe_video
    from sstsal.streaming.encoding import EncodeSettings, encode_video

    if not Path(args.video).is_file():
        raise InputError(f"video {args.video} does not exist: give the source video the tiles were computed on")
    if not Path(args.tiles).is_file():
        raise InputError(f"tile scores {args.tiles} do not exist: run sstsal tiles (or the workflow) first")
    settings = EncodeSettings(encoder=args.encoder, preset=args.preset, bitrate_kbps=args.bitrate, crf=args.crf,
                              strength=args.strength, steer=args.steer, width=args.width, layout=args.layout)  # fmt: skip
    info = VideoInfo.from_json(args.info) if args.info else probe_video(args.video)
    record = encode_video(args.video, args.tiles, args.out, settings=settings, info=info, threads=args.threads)
    kbps = record["video_kbps"]
    print(f"uniform {kbps['uniform']:.0f} kbit/s, roi {kbps['roi']:.0f} kbit/s (size ratio {record['size_ratio']:.4f}), "
          f"{len(record['segments'])} segments, a key frame on every segment start")  # fmt: skip
    print(f"wrote {args.out}/uniform.mp4, roi.mp4, encode.json", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sstsal.streaming.encoding import ENCODERS, STEERING, EncodeSettings

    d = EncodeSettings()
    parser = subparsers.add_parser(
        "encode",
        help="saliency-driven encode (ROI per tile and segment) next to a uniform encode of the same size",
        description="Re-encode the video's equirectangular view segment by segment (the segments of tiles.csv, "
        "each a closed GOP starting with a key frame) twice: uniform, and with quantiser offsets per tile from "
        "its saliency (ffmpeg addroi), at the same size within 1 %. Writes OUT/uniform.mp4, OUT/roi.mp4 (with "
        "spherical metadata and the source audio) and OUT/encode.json.",
    )
    parser.add_argument("video", help="the source video")
    parser.add_argument("--tiles", required=True, help="tiles.csv of the video (sstsal tiles, or the workflow's)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--info", help="the workflow's video.json (default: probe the video)")
    parser.add_argument("--encoder", choices=ENCODERS, default=d.encoder, help=f"CPU encoder (default {d.encoder})")
    parser.add_argument("--preset", default=d.preset, help=f"encoder preset (default {d.preset})")
    parser.add_argument("--bitrate", type=float, metavar="KBPS",
                        help="the uniform encode's bitrate, kbit/s, two-pass (default: --crf)")  # fmt: skip
    parser.add_argument("--crf", type=float, default=d.crf, help=f"the uniform encode's CRF without --bitrate (default {d.crf:g})")
    parser.add_argument("--strength", type=float, default=d.strength, metavar="QP",
                        help=f"largest quantiser offset of a tile, QP (default {d.strength:g}; 0: both encodes alike)")  # fmt: skip
    parser.add_argument("--steer", choices=STEERING, default=d.steer,
                        help="viewport: finer where viewports overlap (viewport_p); share: where the saliency density is (default viewport)")  # fmt: skip
    parser.add_argument("--width", type=int, help="encode width (height width/2; default the source's view)")
    parser.add_argument("--layout", help="the layout of tiles.csv to steer by (default its first equirect:RxC)")
    parser.add_argument("--threads", type=int, default=0, help="encoder threads (default 0: the encoder's choice)")
    parser.set_defaults(func=run)
