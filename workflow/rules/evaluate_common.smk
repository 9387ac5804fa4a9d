# Helpers of evaluate.smk and groundtruth.smk (kept apart from the rules, like common/): which videos
# have ground truth, input functions, and the evaluation's final files.
# Ground truth of <video>: <ground_truth>/<video>/ saliency maps (<frame number>.png) and/or
# <ground_truth>/<video>.csv fixations. Frames pair by the number at the end of the file name.
# With gaze.format set, <ground_truth> holds raw gaze recordings instead (<video>/ with one file per
# observer, or <video>.csv/.txt; PVS-HM and D-SAV360 files hold several videos), and the rule
# groundtruth builds the maps and fixations under results/ground_truth/ first.

import types

from sstsal.errors import InputError
from sstsal.evaluation.evaluate import ground_truth_for
from sstsal.evaluation.metrics import METRIC_NAMES
from sstsal.gaze.groundtruth import GroundTruthSettings
from sstsal.gaze.readers import recordings_for

GROUND_TRUTH = config.get("ground_truth")
GAZE_FORMAT = config["gaze"]["format"]
GAZE_TRUTH = f"{RESULTS}/ground_truth"  # maps and fixations built from raw gaze
try:  # the gaze.* keys with the profile's values and the defaults filled in, checked once
    GAZE_SETTINGS = GroundTruthSettings.from_config(config["gaze"])
except InputError as error:
    raise WorkflowError(f"gaze: {error}")
if GROUND_TRUTH and not Path(GROUND_TRUTH).is_dir():
    raise WorkflowError(
        f"ground_truth folder {GROUND_TRUTH} does not exist: give the folder holding <video>/ saliency maps "
        "and/or <video>.csv fixations (or raw gaze with gaze.format), or set ground_truth: null"
    )
if GROUND_TRUTH and GAZE_FORMAT:
    EVALUATED = sorted(
        v for v in VIDEOS if recordings_for(GROUND_TRUTH, v, GAZE_FORMAT)
    )
    TRUTH_ROOT = GAZE_TRUTH
else:
    EVALUATED = sorted(
        v for v in VIDEOS if GROUND_TRUTH and any(ground_truth_for(GROUND_TRUTH, v))
    )
    TRUTH_ROOT = GROUND_TRUTH
NOT_EVALUATED = sorted(v for v in VIDEOS if GROUND_TRUTH and v not in EVALUATED)
if GROUND_TRUTH and not EVALUATED:
    what = (
        f"{GAZE_FORMAT} gaze recordings"
        if GAZE_FORMAT
        else "<video>/ folder or <video>.csv"
    )
    raise WorkflowError(
        f"ground_truth folder {GROUND_TRUTH} has no {what} for any of the videos "
        f"({', '.join(sorted(VIDEOS)[:5])}): name them after the videos"
    )


def gaze_recordings(wildcards):
    """The raw gaze files of one video (rule groundtruth)."""
    if VIDEOS[wildcards.video] is None:
        raise WorkflowError(
            f"ground truth from raw gaze needs the source video of {wildcards.video} (its frame rate): "
            "put it in the videos folder"
        )
    return [str(p) for p in recordings_for(GROUND_TRUTH, wildcards.video, GAZE_FORMAT)]


def ground_truth_maps(wildcards):
    if GAZE_FORMAT:
        return f"{GAZE_TRUTH}/{wildcards.video}"
    maps, _ = ground_truth_for(GROUND_TRUTH, wildcards.video)
    return [] if maps is None else str(maps)


def ground_truth_fixations(wildcards):
    if GAZE_FORMAT:
        return f"{GAZE_TRUTH}/{wildcards.video}.csv"
    _, fixations = ground_truth_for(GROUND_TRUTH, wildcards.video)
    return [] if fixations is None else str(fixations)


def evaluation_outputs():
    """The evaluation's final files ([] without ground truth)."""
    if not GROUND_TRUTH:
        return []
    return [f"{RESULTS}/evaluation/summary.csv"] + [
        f"{RESULTS}/evaluation/{m}.png" for m in METRIC_NAMES
    ]


# Training (`snakemake train`, not part of `all`) uses the videos with ground-truth maps.
TRAINABLE = sorted(
    v
    for v in EVALUATED
    if GAZE_FORMAT or ground_truth_for(GROUND_TRUTH, v)[0] is not None
)


def training_inputs(kind):
    """The frames / flow / ground-truth folders of every trainable video."""

    def folders(wildcards):
        if not TRAINABLE:
            raise WorkflowError(
                "snakemake train needs config ground_truth with <video>/ saliency maps for some videos"
            )
        out = []
        for video in TRAINABLE:
            ns = types.SimpleNamespace(video=video)
            if kind == "frames":
                out.append(model_frames(ns))
            elif kind == "flow":
                out += [flow_images(ns)] if USE_FLOW else []
            else:
                out.append(ground_truth_maps(ns))
        return [str(p) for p in out]

    return folders
