# Helpers of evaluate.smk (kept apart from the rules, like common/): which videos have ground
# truth, input functions, and the evaluation's final files.
# Ground truth of <video>: <ground_truth>/<video>/ saliency maps (<frame number>.png) and/or
# <ground_truth>/<video>.csv fixations. Frames pair by the number at the end of the file name.

import types

from sstsal.evaluation.evaluate import ground_truth_for
from sstsal.evaluation.metrics import METRIC_NAMES

GROUND_TRUTH = config.get("ground_truth")
if GROUND_TRUTH and not Path(GROUND_TRUTH).is_dir():
    raise WorkflowError(
        f"ground_truth folder {GROUND_TRUTH} does not exist: give the folder holding <video>/ saliency maps "
        "and/or <video>.csv fixations, or set ground_truth: null"
    )
EVALUATED = sorted(
    v for v in VIDEOS if GROUND_TRUTH and any(ground_truth_for(GROUND_TRUTH, v))
)
NOT_EVALUATED = sorted(v for v in VIDEOS if GROUND_TRUTH and v not in EVALUATED)
if GROUND_TRUTH and not EVALUATED:
    raise WorkflowError(
        f"ground_truth folder {GROUND_TRUTH} has no <video>/ folder or <video>.csv for any of the videos "
        f"({', '.join(sorted(VIDEOS)[:5])}): name them after the videos"
    )


def ground_truth_maps(wildcards):
    maps, _ = ground_truth_for(GROUND_TRUTH, wildcards.video)
    return [] if maps is None else str(maps)


def ground_truth_fixations(wildcards):
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
    v for v in EVALUATED if ground_truth_for(GROUND_TRUTH, v)[0] is not None
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
                out.append(ground_truth_for(GROUND_TRUTH, video)[0])
        return [str(p) for p in out]

    return folders
