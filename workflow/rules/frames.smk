rule extract_frames:
    """Sampled frames at model size (320x240, INTER_AREA from the source resolution)."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
    output:
        frames=directory(result("{video}", "frames")),
        manifest=result("{video}", "frames.json"),
        record=stage_record("extract_frames"),
    log:
        "logs/extract_frames/{video}.log",
    benchmark:
        "logs/benchmarks/extract_frames/{video}.tsv"
    group:
        job_group("frames")
    conda:
        "../envs/sstsal.yaml"
    # ffmpeg decodes and scales the source video on several cores
    threads: 4
    resources:
        mem_mb=per_attempt(8000),
        runtime=per_attempt(120),
    params:
        size=[320, 240],
        sampling=config["extract"]["sampling"],
        fps=config["extract"]["fps"],
        version=stage_version("frames"),
    script:
        "../scripts/extract_frames.py"


rule extract_flow_frames:
    """The same sampled frames at the flow stage's working width (large: optionally temporary)."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
    output:
        frames=(
            directory(result("{video}", "flow_frames"))
            if config["extract"]["keep_flow_frames"]
            else temp(directory(result("{video}", "flow_frames")))
        ),
        record=stage_record("extract_flow_frames"),
    log:
        "logs/extract_flow_frames/{video}.log",
    benchmark:
        "logs/benchmarks/extract_flow_frames/{video}.tsv"
    group:
        job_group("frames")
    conda:
        "../envs/sstsal.yaml"
    threads: 4
    resources:
        mem_mb=flow_sized(8000),
        runtime=flow_sized(120),
    params:
        size=None,
        width=config["flow"]["width"],
        sampling=config["extract"]["sampling"],
        fps=config["extract"]["fps"],
        version=stage_version("frames"),
    script:
        "../scripts/extract_frames.py"
