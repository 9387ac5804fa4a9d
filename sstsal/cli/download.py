"""``sstsal download``: fetch the published SST-Sal checkpoints (checksummed)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "download",
        help="fetch the published SST-Sal checkpoints into the cache",
        description="Fetch SST_Sal.pth and SST_Sal_wo_OF.pth from their pinned URL and verify their sha256. "
        "A copy in the folder named by SSTSAL_MODELS is used instead when present. With --from DIR, copy the "
        "checkpoints found in DIR (SST-Sal, raft-sintel.pth, torchvision's RAFT weights) into the cache after "
        "checking their sha256, so that every later run finds them without internet or SSTSAL_MODELS.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="checkpoint file names (default: all)")
    p.add_argument(
        "--from", dest="source", metavar="DIR", help="copy the checkpoints from this folder instead of downloading"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sstsal.flow.raft.weights import copy_targets
    from sstsal.model.weights import CHECKPOINTS, checkpoint_path, copy_from_folder

    if args.source:
        for name, dest in copy_from_folder(args.source, args.names or None, extra=copy_targets()):
            print(f"{name}: {dest}")
        return 0
    for name in args.names or list(CHECKPOINTS):
        print(f"{name}: {checkpoint_path(name)}")
    return 0
