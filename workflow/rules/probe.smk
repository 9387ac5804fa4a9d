rule probe:
    """Read the video's stream facts; fail here, naming the file, when it is unreadable or truncated."""
    input:
        source_video,
    output:
        result("{video}", "video.json"),
    params:
        version=stage_version("video"),
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/probe/{video}.log",
    benchmark:
        "logs/benchmarks/probe/{video}.tsv"
    script:
        "../scripts/probe.py"
