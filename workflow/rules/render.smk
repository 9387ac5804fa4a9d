rule render:
    """The source video with its saliency heatmap blended on top (H.264 MP4, source audio)."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
        stack=result("{video}", "saliency.npz"),
    output:
        result("{video}", "overlay.mp4"),  # the report shows results/{video}/report/overlay.mp4 (report.smk)
        record=stage_record("render"),
    log:
        "logs/render/{video}.log",
    benchmark:
        "logs/benchmarks/render/{video}.tsv"
    group:
        job_group("views")
    conda:
        "../envs/sstsal.yaml"
    # ffmpeg decodes the source and x264 encodes the overlay on several cores
    threads: 4
    resources:
        mem_mb=per_attempt(8000),
        runtime=per_attempt(120),
    params:
        width=config["render"]["width"],
        alpha=config["render"]["alpha"],
        colormap=config["render"]["colormap"],
        interpolate=config["render"]["interpolate"],
        crf=config["render"]["crf"],
        preset=config["render"]["preset"],
        version=stage_version("render"),
    script:
        "../scripts/render.py"
