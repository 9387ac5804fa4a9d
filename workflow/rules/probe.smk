rule probe:
    """Stream facts and 360-degree layout (metadata, sheet, content); fails on unreadable or unconvertible files."""
    input:
        source_video,
    output:
        result("{video}", "video.json"),
        record=stage_record("probe"),
    log:
        "logs/probe/{video}.log",
    benchmark:
        "logs/benchmarks/probe/{video}.tsv"
    group:
        job_group("frames")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        sheet=sheet_entry,
        version=stage_version("video"),
    script:
        "../scripts/probe.py"
