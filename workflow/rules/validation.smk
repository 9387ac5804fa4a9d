rule validate:
    """Frames and flow images form one consistent set (names, numbering, readability, sizes)."""
    input:
        frames=model_frames,
        flow=flow_images,
        manifest=frames_manifest,
    output:
        result("{video}", "validation.json"),
        record=stage_record("validate"),
    log:
        "logs/validate/{video}.log",
    benchmark:
        "logs/benchmarks/validate/{video}.tsv"
    group:
        job_group("saliency")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        version=stage_version("validation"),
    script:
        "../scripts/validate.py"
