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
    group:
        job_group("views")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        # keys sorted: `--config` changes the order of the keys, not what they say; the videos
        # folder in its one spelling: spelling it differently changes nothing either
        config=json.loads(
            json.dumps({**config, "videos": str(VIDEOS_FOLDER)}, sort_keys=True)
        ),
        source=lambda wildcards: VIDEOS[wildcards.video],
    script:
        "../scripts/provenance.py"
