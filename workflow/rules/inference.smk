rule inference:
    """SST-Sal saliency maps for every sampled frame, as PNGs and as a float16 stack."""
    input:
        frames=model_frames,
        flow=flow_images,
        validation=result("{video}", "validation.json"),
        info=video_info,
    output:
        maps=directory(result("{video}", "saliency")),
        stack=result("{video}", "saliency.npz"),
        record=stage_record("inference"),
    log:
        "logs/inference/{video}.log",
    benchmark:
        "logs/benchmarks/inference/{video}.tsv"
    group:
        job_group("saliency")
    conda:
        "../envs/sstsal.yaml"
    threads: 4
    resources:
        gpu=gpu_request(GPU),
        mem_mb=per_attempt(16000),
        runtime=per_attempt(120),
    params:
        no_flow=not USE_FLOW,
        checkpoint=config["model"]["checkpoint"],
        device=DEVICE,
        batch_size=config["model"]["batch_size"],
        version=stage_version("inference"),
    script:
        "../scripts/inference.py"
