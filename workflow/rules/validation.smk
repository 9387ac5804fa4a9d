rule validate:
    """Frames and flow images form one consistent set (names, numbering, readability, sizes)."""
    input:
        frames=model_frames,
        flow=flow_images,
        manifest=frames_manifest,
    output:
        result("{video}", "validation.json"),
    params:
        version=stage_version("validation"),
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/validate/{video}.log",
    benchmark:
        "logs/benchmarks/validate/{video}.tsv"
    script:
        "../scripts/validate.py"
