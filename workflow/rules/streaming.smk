# Saliency for 360-degree streaming (docs/streaming.md): tiles.csv, the share of each segment's
# saliency per tile, for every video with a source file; with encode.enabled, encoded/: a
# saliency-driven (ROI) encode next to a uniform one of the same size, cut into closed GOPs on the
# segment boundaries.


rule tiles:
    """Share of the saliency and viewport-overlap probability per segment and tile, and their plot."""
    input:
        stack=result("{video}", "saliency.npz"),
        info=result("{video}", "video.json"),
    output:
        table=result("{video}", "tiles.csv"),
        plot=report(
            result("{video}", "tiles.png"),
            caption="../report/tiles.rst",
            category="Streaming",
            labels={"video": "{video}", "file": "tile shares"},
        ),
        record=stage_record("tiles"),
    log:
        "logs/tiles/{video}.log",
    benchmark:
        "logs/benchmarks/tiles/{video}.tsv"
    group:
        job_group("views")
    # a few seconds of numpy on the maps: on a cluster it travels in its video's views job
    # (job_groups), or runs where snakemake runs
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        settings=config["tiles"],
        version=stage_version("tiles"),
    script:
        "../scripts/tiles.py"


rule encode:
    """The source encoded twice per segment, uniform and saliency-driven (ROI), at the same size."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
        tiles=result("{video}", "tiles.csv"),
    output:
        encoded=directory(result("{video}", "encoded")),
        record=stage_record("encode"),
    log:
        "logs/encode/{video}.log",
    benchmark:
        "logs/benchmarks/encode/{video}.tsv"
    # provenance (views) reads its record: on a cluster it travels in its video's views job
    group:
        job_group("views")
    conda:
        "../envs/sstsal.yaml"
    threads: 4
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(240),
    params:
        settings={k: v for k, v in config["encode"].items() if k != "enabled"},
        version=stage_version("encode"),
    script:
        "../scripts/encode.py"
