"""``sstsal validate``: check that a frame folder (and its flow folder) form one consistent set."""

from __future__ import annotations

import argparse
import json
import sys


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sstsal.errors import InputError
    from sstsal.pipeline.validation import validate_frame_set, write_validation

    for option, folder in (("--frames", args.frames), ("--flow", args.flow)):
        if folder is not None and not Path(folder).is_dir():
            raise InputError(f"{option} {folder} is not a folder: give the folder of one video's PNGs")
    report = validate_frame_set(args.frames, args.flow, step=args.step)
    if args.json:
        write_validation(args.json, report)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"ok: {report['count']} frames" + (" with flow" if args.flow else ""), file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check frame/flow names, numbering, readability and sizes",
        description="Check that FRAMES (and FLOW) hold one consistent set: <video>_<number>.png names of one "
        "video, numbers advancing by one step, every PNG readable, one size per folder, the same names in both.",
    )
    parser.add_argument("--frames", required=True, help="folder of one video's frames <video>_<number>.png")
    parser.add_argument("--flow", help="folder of the flow images with the same names")
    parser.add_argument("--step", type=int, help="expected difference between frame numbers (default: from the first two)")
    parser.add_argument("--json", help="also write the report to this file")
    parser.set_defaults(func=run)
