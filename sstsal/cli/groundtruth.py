"""``sstsal groundtruth``: gaze recordings of one video -> fixations and saliency maps per sampled frame."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1024x512, got {text!r}") from None
    return width, height


def register(subparsers: argparse._SubParsersAction) -> None:
    from sstsal.gaze.fixations import METHODS
    from sstsal.gaze.groundtruth import PROFILES
    from sstsal.gaze.maps import ALIGNMENTS
    from sstsal.gaze.readers import EYES, FORMATS

    parser = subparsers.add_parser(
        "groundtruth",
        help="turn eye-tracking recordings of a video into ground-truth fixations and saliency maps",
        description=(
            "Read the gaze recordings of one video (several observers), identify fixations on the sphere (I-VT), "
            "and write for every sampled frame a saliency map (Gaussians of angular distance, 16-bit PNG) to "
            "OUT/<name>/, the fixations to OUT/<name>.csv and a record to OUT/<name>.json: the layout "
            "`sstsal evaluate`, `sstsal train` and the workflow's ground_truth read."
        ),
    )
    parser.add_argument("gaze", nargs="+", type=Path, help="gaze files or folders (one file per observer, or one file with an observer column)")
    parser.add_argument("--format", choices=FORMATS, default="plain", help="recording format (default plain: time_s, observer, yaw, pitch)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="ground-truth root folder")
    parser.add_argument("--name", required=True, help="the video's name, as in results/<name>/ and the frame names")
    timing = parser.add_argument_group("video timing")
    timing.add_argument("--video", type=Path, help="the video file (frame rate and length are read from it)")
    timing.add_argument("--fps", type=float, help="the video's frame rate, without --video")
    timing.add_argument("--frame-count", type=int, help="the video's number of frames, without --video")
    timing.add_argument("--frames", type=Path, metavar="DIR", help="give ground truth for the frames of this folder (e.g. results/<name>/frames)")
    timing.add_argument("--sampling", choices=["published", "exact", "all"], default="published",
                        help="without --frames: which frames (as `sstsal extract`; all: every frame)")  # fmt: skip
    timing.add_argument("--sample-fps", type=float, default=8.0, help="frames per second for --sampling exact")
    timing.add_argument("--align", choices=ALIGNMENTS, default=None,
                        help="video time from the recording's clock (time) or its video frame column (frame); auto (default): frame when recorded")  # fmt: skip
    timing.add_argument("--offset", type=float, default=0.0, metavar="S", help="video time at the recording's start, seconds (default 0)")
    timing.add_argument("--tolerance", type=float, default=0.5, metavar="S",
                        help="how much shorter or longer than the video a recording may be (default 0.5 s)")  # fmt: skip
    method = parser.add_argument_group("processing (defaults, or the --profile's values)")
    method.add_argument("--profile", choices=sorted(PROFILES),
                        help="a dataset's own processing in one flag (salient360-dynamic: the Salient360! toolbox's video script); "
                             "options given with it override its values")  # fmt: skip
    method.add_argument("--start-frame", type=int, metavar="N", help="start at the first sample showing video frame N (default: the first sample)")
    method.add_argument("--resample", type=float, metavar="HZ", help="resample the gaze to this rate first (default: as recorded)")
    method.add_argument("--outlier-sd", type=float, metavar="SD", help="drop samples whose velocity lies this many SD from the mean (default: none)")
    method.add_argument("--smoothing-window", type=int, metavar="N", help="Savitzky-Golay window of the velocity, odd, in samples (default 0: none)")
    method.add_argument("--smoothing-order", type=int, metavar="K", help="Savitzky-Golay polynomial order (default 2)")
    method.add_argument("--eye", choices=EYES, help="which eye (or the head only) where the format has both (default right, as the Salient360! toolbox)")
    method.add_argument("--fixations", choices=list(METHODS), help="ivt (default), samples (every sample a fixation point) or recorded (the dataset's own fixation labels: D-SAV360)")
    method.add_argument("--velocity-threshold", type=float, metavar="DEG_S", help="I-VT threshold (default 120 deg/s)")
    method.add_argument("--min-fixation", type=float, metavar="S", help="shortest fixation kept (default 0.080 s)")
    method.add_argument("--sigma", type=float, metavar="DEG", help="Gaussian sigma in degrees (default 2)")
    method.add_argument("--size", type=_size, default=(1024, 512), metavar="WxH", help="map size (default 1024x512)")
    export = parser.add_argument_group("exports")
    export.add_argument("--export-salient360", type=Path, metavar="DIR", help="also write the .bin float32 stack and scanpath CSVs")
    export.add_argument("--export-npz", type=Path, metavar="FILE", help="also write the maps as a 16-bit npz stack with frame times")
    export.add_argument("--export-pysaliency", type=Path, metavar="DIR", help="also write a pysaliency dataset and saliency-map model")
    export.add_argument("--pysaliency-model", type=Path, metavar="DIR",
                        help="with --export-pysaliency: predicted maps to export as the model (default: the ground-truth maps)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sstsal.errors import InputError
    from sstsal.gaze.groundtruth import GroundTruthSettings, make_ground_truth, timeline_for

    # The workflow's gaze.* keys; None: the profile's value or the default.
    settings = GroundTruthSettings.from_config({
        "profile": args.profile, "format": args.format, "eye": args.eye, "align": args.align, "offset_s": args.offset,
        "tolerance_s": args.tolerance, "start_frame": args.start_frame, "resample_hz": args.resample,
        "outlier_sd": args.outlier_sd, "smoothing_window": args.smoothing_window, "smoothing_order": args.smoothing_order,
        "fixations": args.fixations, "velocity_threshold_deg_s": args.velocity_threshold, "min_fixation_s": args.min_fixation,
        "sigma_deg": args.sigma, "width": args.size[0], "height": args.size[1],
    })  # fmt: skip
    if args.pysaliency_model is not None and args.export_pysaliency is None:
        raise InputError("--pysaliency-model needs --export-pysaliency DIR")
    timeline = timeline_for(video=args.video, fps=args.fps, frame_count=args.frame_count, frames_dir=args.frames,
                            sampling=args.sampling, sample_fps=args.sample_fps)  # fmt: skip
    truth, maps = make_ground_truth(args.gaze, args.out, video=args.name, timeline=timeline, settings=settings)
    if args.export_salient360:
        from sstsal.gaze.exports import export_salient360

        export_salient360(truth, maps, args.export_salient360, settings.map)
    if args.export_npz:
        from sstsal.gaze.exports import export_npz

        export_npz(truth, maps, args.export_npz, settings.map)
    if args.export_pysaliency:
        _export_pysaliency(args, truth, maps)
    print(
        f"wrote {len(maps)} map(s) of {len(truth.frames)} sampled frame(s), {len(truth.fixations)} fixation(s) of "
        f"{len(truth.observers())} observer(s) to {args.out / args.name}/ and {args.out / args.name}.csv",
        file=sys.stderr,
    )
    return 0


def _export_pysaliency(args: argparse.Namespace, truth, maps) -> None:
    import cv2
    import numpy as np

    from sstsal.evaluation.evaluate import index_maps, read_saliency_map
    from sstsal.gaze.exports import export_pysaliency

    fixations = {}
    for frame in truth.frames:
        if frame.fixations:
            fixations[frame.number] = (np.array([f[1] for f in frame.fixations]), np.array([f[2] for f in frame.fixations]),
                                       [f[0] for f in frame.fixations])  # fmt: skip
    model = maps
    if args.pysaliency_model is not None:
        # The prediction as `sstsal evaluate` scores it: read as stored, resized (bilinear) to the ground truth's size.
        height, width = args.size[1], args.size[0]
        model = {}
        for number, path in index_maps(args.pysaliency_model, "prediction").items():
            prediction = read_saliency_map(path)
            if prediction.shape != (height, width):
                prediction = cv2.resize(prediction, (width, height), interpolation=cv2.INTER_LINEAR)
            model[number] = prediction
    export_pysaliency(fixations, model, args.export_pysaliency, video=args.name, frames_dir=args.frames)
