# Ground truth from raw gaze recordings (config `ground_truth` with `gaze.format` set): per video,
# fixations and saliency maps for the frames the model sees, built before evaluation and cached
# like any stage (a changed gaze.* setting rebuilds them). Helpers in evaluate_common.smk.


rule groundtruth:
    """Fixations (I-VT on the sphere) and Gaussian maps of every sampled frame of one video."""
    input:
        gaze=gaze_recordings,
        info=result("{video}", "video.json"),
        frames=model_frames,
    output:
        maps=directory(f"{GAZE_TRUTH}/{{video}}"),
        fixations=f"{GAZE_TRUTH}/{{video}}.csv",
        record=f"{GAZE_TRUTH}/{{video}}.json",
    log:
        "logs/groundtruth/{video}.log",
    benchmark:
        "logs/benchmarks/groundtruth/{video}.tsv"
    conda:
        "../envs/sstsal.yaml"
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        settings=config["gaze"],
        version=stage_version("groundtruth"),
    script:
        "../scripts/groundtruth.py"
