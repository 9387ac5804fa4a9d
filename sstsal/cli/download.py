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
    from sstsal.errors import CheckpointError
    from sstsal.flow.raft.weights import copy_targets
    from sstsal.model.weights import CHECKPOINTS, checkpoint_path, copy_from_folder

    if args.source:
        copied = dict(copy_from_folder(args.source, args.names or None, extra=copy_targets()))
        for name, dest in copied.items():
            print(f"{name}: {dest}")
        # both SST-Sal checkpoints must end up somewhere the workflow looks (the cache or SSTSAL_MODELS)
        absent = [n for n in (args.names or CHECKPOINTS) if n in CHECKPOINTS and n not in copied and not _found(n)]
        if absent:
            raise CheckpointError(
                f"{args.source} has no {' and no '.join(absent)}, and the model cache has none either: copy "
                f"{'it' if len(absent) == 1 else 'them'} into {args.source} and run this again, or run "
                "`sstsal download` where there is internet"
            )
        return 0
    found, missing = [], []
    for name in args.names or list(CHECKPOINTS):
        try:
            found.append((name, checkpoint_path(name)))
        except CheckpointError:
            missing.append(name)
    for name, path in found:
        print(f"{name}: {path}")
    if missing:
        raise CheckpointError(
            f"could not download {' and '.join(missing)} (no internet?): copy them from a folder that has them with "
            "`sstsal download --from DIR` (with make: `make run SSTSAL_MODELS=DIR`), or put them in the folder "
            "named by SSTSAL_MODELS"
        )
    return 0


def _found(name: str) -> bool:
    """Whether the checkpoint ``name`` is already where the workflow looks (no download)."""
    from sstsal.errors import CheckpointError
    from sstsal.model.weights import checkpoint_path

    try:
        checkpoint_path(name, download=False)
    except CheckpointError:
        return False
    return True
