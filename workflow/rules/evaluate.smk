# Evaluation against eye-tracking ground truth (config `ground_truth`): per-frame metrics of each
# video, then a summary table over videos and one plot per metric over time, for the report; and
# `snakemake train`, which trains SST-Sal on the videos with ground-truth maps.
# Helpers (ground-truth discovery, input functions) are in evaluate_common.smk.


include: "evaluate_common.smk"
include: "groundtruth.smk"  # gaze.format set: ground truth built from raw gaze first


rule evaluate:
    """Per-frame CC, SIM, KLD, NSS, AUC-Judd, AUC-Borji (planar and sphere-aware) of one video."""
    input:
        maps=result("{video}", "saliency"),
        gt=ground_truth_maps,
        fixations=ground_truth_fixations,
    output:
        metrics=result("{video}", "metrics.csv"),
        counts=result("{video}", "metrics.json"),
    log:
        "logs/evaluate/{video}.log",
    benchmark:
        "logs/benchmarks/evaluate/{video}.tsv"
    conda:
        "../envs/sstsal.yaml"
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        version=stage_version("evaluation"),
        # the inter-observer baseline draws its maps as the ground truth's
        observer_sigma=GAZE_SETTINGS.map.sigma_deg,
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
    log:
        "logs/evaluation_summary.log",
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        videos=EVALUATED,
        not_evaluated=NOT_EVALUATED,
        metrics=list(METRIC_NAMES),
    script:
        "../scripts/evaluate_summary.py"


rule train:
    """Train (or fine-tune) SST-Sal on the frames, flow and ground-truth maps of the videos; resumes
    an interrupted run with the same settings."""
    input:
        frames=training_inputs("frames"),
        flow=training_inputs("flow"),
        gt=training_inputs("gt"),
    output:
        model=f"{RESULTS}/training/model.safetensors",
    log:
        "logs/train.log",
    conda:
        "../envs/sstsal.yaml"
    threads: 8
    resources:
        gpu=gpu_request(GPU),
        mem_mb=per_attempt(32000),
        # not per attempt: a resubmitted run resumes where it stopped, and a longer request than
        # the partition's limit would never start; set it to that limit (docs/cluster.md)
        runtime=1440,
    params:
        settings=config["training"],
        use_flow=USE_FLOW,
        videos=TRAINABLE,
        # Folder patterns with a literal {video}: functions, so Snakemake does not expand them.
        frames=lambda wildcards: (
            f"{BYO_FRAMES}/{{video}}" if BYO_FRAMES else f"{RESULTS}/{{video}}/frames"
        ),
        flow=lambda wildcards: (
            (f"{BYO_FLOW}/{{video}}" if BYO_FLOW else f"{RESULTS}/{{video}}/flow")
            if USE_FLOW
            else None
        ),
        gt=lambda wildcards: f"{TRUTH_ROOT}/{{video}}",
        device=DEVICE,
    script:
        "../scripts/train.py"
