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
    params:
        config=config,
        source=lambda wildcards: VIDEOS[wildcards.video],
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    log:
        "logs/provenance/{video}.log",
    script:
        "../scripts/provenance.py"
