rule probe:
    """Read the video's stream facts; fail here, naming the file, when it is unreadable or truncated."""
    input:
        source_video,
    output:
        result("{video}", "video.json"),
        record=stage_record("probe"),
    log:
        "logs/probe/{video}.log",
    benchmark:
        "logs/benchmarks/probe/{video}.tsv"
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        version=stage_version("video"),
    script:
        "../scripts/probe.py"
