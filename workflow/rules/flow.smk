rule flow:
    """Colour-coded optical flow per sampled frame (t -> t+1), 320x240 PNGs with the frames' names."""
    input:
        frames=flow_source_frames,
    output:
        flow=directory(result("{video}", "flow")),
        record=stage_record("flow"),
    log:
        "logs/flow/{video}.log",
    benchmark:
        "logs/benchmarks/flow/{video}.tsv"
    group:
        job_group("saliency")
    conda:
        "../envs/sstsal.yaml"
    threads: 4
    resources:
        gpu=gpu_request(FLOW_GPU),
        mem_mb=flow_sized(16000),
        runtime=flow_sized(120),
    params:
        method=FLOW_METHOD,
        width=config["flow"]["width"],
        iters=config["flow"]["iters"],
        precision=config["flow"]["precision"],
        seam=config["flow"]["seam"],
        color_order=config["flow"]["color_order"],
        checkpoint=config["flow"]["raft_checkpoint"],
        device=DEVICE,
        raw_dir=result("{video}", "flow_raw") if config["flow"]["save_raw"] else None,
        version=stage_version("flow"),
    script:
        "../scripts/flow.py"
