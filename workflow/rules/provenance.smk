rule provenance:
    """What made the video's results: software, checkpoints with sha256, settings, stage times."""
    input:
        records=stage_records,
    output:
        report(
            result("{video}", "provenance.json"),
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"video": "{video}"},
        ),
    log:
        "logs/provenance/{video}.log",
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        config=config,
        source=lambda wildcards: VIDEOS[wildcards.video],
    script:
        "../scripts/provenance.py"
