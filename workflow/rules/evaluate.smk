# Evaluation against eye-tracking ground truth (config `ground_truth`): per-frame metrics of each
# video, then a summary table over videos and one plot per metric over time, for the report.
# Ground truth of <video>: <ground_truth>/<video>/ saliency maps (<frame number>.png) and/or
# <ground_truth>/<video>.csv fixations. Frames pair by the number at the end of the file name.

import types

from sstsal.evaluation import ground_truth_for
from sstsal.metrics import METRIC_NAMES

GROUND_TRUTH = config.get("ground_truth")
if GROUND_TRUTH and not Path(GROUND_TRUTH).is_dir():
    raise WorkflowError(
        f"ground_truth folder {GROUND_TRUTH} does not exist: give the folder holding <video>/ saliency maps "
        "and/or <video>.csv fixations, or set ground_truth: null"
    )
EVALUATED = sorted(v for v in VIDEOS if GROUND_TRUTH and any(ground_truth_for(GROUND_TRUTH, v)))
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
    return [f"{RESULTS}/evaluation/summary.csv"] + [f"{RESULTS}/evaluation/{m}.png" for m in METRIC_NAMES]


rule evaluate:
    """Per-frame CC, SIM, KLD, NSS, AUC-Judd, AUC-Borji (planar and sphere-aware) of one video."""
    input:
        maps=result("{video}", "saliency"),
        gt=ground_truth_maps,
        fixations=ground_truth_fixations,
    output:
        metrics=result("{video}", "metrics.csv"),
        counts=result("{video}", "metrics.json"),
    params:
        version=stage_version("sstsal.evaluation"),
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/evaluate/{video}.log",
    script:
        "../scripts/evaluate.py"


rule evaluation_summary:
    """Mean metrics per video, and each metric over time, into the report."""
    input:
        metrics=expand(result("{video}", "metrics.csv"), video=EVALUATED),
        counts=expand(result("{video}", "metrics.json"), video=EVALUATED),
    output:
        table=report(
            f"{RESULTS}/evaluation/summary.csv",
            caption="../report/evaluation_summary.rst",
            category="Evaluation",
        ),
        plots=[
            report(
                f"{RESULTS}/evaluation/{metric}.png",
                caption="../report/evaluation_plot.rst",
                category="Evaluation",
                labels={"metric": metric},
            )
            for metric in METRIC_NAMES
        ],
    params:
        videos=EVALUATED,
        not_evaluated=NOT_EVALUATED,
        metrics=list(METRIC_NAMES),
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/evaluation_summary.log",
    script:
        "../scripts/evaluate_summary.py"


# ---- training on the videos with ground-truth maps: `snakemake train` (not part of `all`) ------

TRAINABLE = sorted(v for v in EVALUATED if ground_truth_for(GROUND_TRUTH, v)[0] is not None)


def training_inputs(kind):
    """The frames / flow / ground-truth folders of every trainable video."""

    def folders(wildcards):
        if not TRAINABLE:
            raise WorkflowError("snakemake train needs config ground_truth with <video>/ saliency maps for some videos")
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


rule train:
    """Train (or fine-tune) SST-Sal on the frames, flow and ground-truth maps of the videos; resumes
    an interrupted run with the same settings."""
    input:
        frames=training_inputs("frames"),
        flow=training_inputs("flow"),
        gt=training_inputs("gt"),
    output:
        model=f"{RESULTS}/training/model.safetensors",
    params:
        settings=config["training"],
        use_flow=USE_FLOW,
        videos=TRAINABLE,
        # Folder patterns with a literal {video}: functions, so Snakemake does not expand them.
        frames=lambda wildcards: f"{BYO_FRAMES}/{{video}}" if BYO_FRAMES else f"{RESULTS}/{{video}}/frames",
        flow=lambda wildcards: (f"{BYO_FLOW}/{{video}}" if BYO_FLOW else f"{RESULTS}/{{video}}/flow") if USE_FLOW else None,
        gt=lambda wildcards: f"{GROUND_TRUTH}/{{video}}",
        device=DEVICE,
    resources:
        gpu=GPU,
    threads: 4
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/train.log",
    script:
        "../scripts/train.py"


localrules:
    evaluation_summary,
