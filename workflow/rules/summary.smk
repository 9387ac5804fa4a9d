rule summary:
    """A contact sheet of frames with heatmaps, and the most salient direction of every frame."""
    input:
        frames=model_frames,
        stack=result("{video}", "saliency.npz"),
        info=video_info,
    output:
        sheet=report(
            result("{video}", "contact_sheet.png"),
            caption="../report/contact_sheet.rst",
            category="Contact sheets",
            labels={"video": "{video}"},
        ),
        directions=report(
            result("{video}", "directions.csv"),
            caption="../report/directions.rst",
            category="Salient directions",
            labels={"video": "{video}"},
        ),
        record=stage_record("summary"),
    log:
        "logs/summary/{video}.log",
    benchmark:
        "logs/benchmarks/summary/{video}.tsv"
    group:
        job_group("views")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        frames=config["summary"]["frames"],
        columns=config["summary"]["columns"],
        alpha=config["render"]["alpha"],
        colormap=config["render"]["colormap"],
        version=stage_version("summary"),
    script:
        "../scripts/summary.py"
