"""``sstsal demo-data DIR``: a synthetic demo clip in DIR when DIR has no videos.

When DIR's only video is the demo clip (just written, or from an earlier run) it prints, on
stdout, the Snakemake arguments that run the demo with ``flow.method: auto`` (DIS on a CPU,
RAFT on a GPU), so ``make run`` finishes in minutes on a laptop; it prints nothing on stdout
when DIR holds the user's videos.
"""

from __future__ import annotations

import argparse

DEMO_SNAKEMAKE_ARGS = '--config flow={"method":"auto"}'


def run(args: argparse.Namespace) -> int:
    from sstsal.media.demo import ensure_demo_data

    if ensure_demo_data(args.folder):
        print(DEMO_SNAKEMAKE_ARGS)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="write a short synthetic 360-degree demo clip into a folder that has no videos",
        description="Write a 5-second synthetic equirectangular clip into FOLDER only if FOLDER holds no videos "
        "(and say so). Prints the snakemake arguments for the demo run on stdout when the demo clip is the only video.",
    )
    parser.add_argument("folder", help="the video folder, e.g. data/videos")
    parser.set_defaults(func=run)
