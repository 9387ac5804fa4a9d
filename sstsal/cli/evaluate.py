"""``sstsal evaluate``: per-frame saliency metrics against eye-tracking ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted saliency maps against ground-truth maps and/or fixations",
        description=(
            "Pair predicted maps with ground truth by frame number and write one CSV row per frame with "
            "cc, sim, kld, nss, auc_judd, auc_borji and their sphere-aware *_sphere forms (NSS/AUC columns "
            "empty without fixations), then a row frame=mean; then the same for the baselines (equator bias, centre "
            "bias, inter-observer), column model. Frames without ground truth are skipped and counted."
        ),
    )
    parser.add_argument("--pred", required=True, type=Path, metavar="DIR", help="predicted maps (<video>_<frame>.png)")
    parser.add_argument("--gt", type=Path, metavar="DIR", help="ground-truth saliency maps (<frame>.png or <video>_<frame>.png)")
    parser.add_argument(
        "--fixations",
        type=Path,
        metavar="CSV",
        help="fixations: columns frame and yaw,pitch (degrees) or x,y (pixels; optional width,height), optional video",
    )
    parser.add_argument("--video", help="with --fixations: keep only rows whose 'video' column equals this")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.csv", help="where to write the per-frame metrics")
    base = parser.add_argument_group("baselines (scored beside the prediction, rows model=<baseline>)")
    base.add_argument("--no-baselines", action="store_true", help="score the prediction only")
    base.add_argument("--equator-sigma", type=float, metavar="DEG", help="equator band width (default: fitted on the ground truth)")
    base.add_argument("--centre-sigma", type=float, metavar="DEG", help="centre Gaussian width (default: fitted on the ground truth)")
    base.add_argument("--observer-sigma", type=float, default=2.0, metavar="DEG",
                      help="Gaussian sigma of the inter-observer maps (default 2, as sstsal groundtruth)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sstsal.evaluation.baselines import BaselineSettings
    from sstsal.evaluation.evaluate import evaluate_folders, write_metrics_csv

    baselines = None if args.no_baselines else BaselineSettings(args.equator_sigma, args.centre_sigma, args.observer_sigma)
    result = evaluate_folders(args.pred, args.gt, args.fixations, video=args.video, baselines=baselines)
    write_metrics_csv(result, args.out)
    print(result.summary(), file=sys.stderr)
    shown = ", ".join(f"{name}={result.mean[name]:.4f}" for name in ("cc", "kld", "cc_sphere", "kld_sphere", "nss_sphere")
                      if result.mean[name] == result.mean[name])
    print(f"wrote {args.out}" + (f" (mean {shown})" if shown else ""), file=sys.stderr)
    return 0
