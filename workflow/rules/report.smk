# The report's copies of the overlay and the director's cut (`snakemake --report`): the whole
# video up to report.preview_s, a stream-copied first part of a longer one, so the report of a
# library of long videos stays light.


rule report_overlay:
    """The report's overlay video: all of overlay.mp4 (a hard link), or its first report.preview_s."""
    input:
        clip=result("{video}", "overlay.mp4"),
        info=result("{video}", "video.json"),
    output:
        report(
            result("{video}", "report/overlay.mp4"),
            caption="../report/overlay.rst",
            category="Overlay videos",
            labels={"video": "{video}"},
        ),
    log:
        "logs/report_overlay/{video}.log",
    group:
        job_group("views")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        seconds=config["report"]["preview_s"],
        alpha=config["render"]["alpha"],
        colormap=config["render"]["colormap"],
    script:
        "../scripts/report_preview.py"


rule report_director:
    """The report's director's cut: all of director.mp4 (a hard link), or its first report.preview_s."""
    input:
        clip=result("{video}", "director.mp4"),
        info=result("{video}", "video.json"),
    output:
        report(
            result("{video}", "report/director.mp4"),
            caption="../report/director.rst",
            category="Director's cut",
            labels={"video": "{video}", "file": "video"},
        ),
    log:
        "logs/report_director/{video}.log",
    group:
        job_group("views")
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        seconds=config["report"]["preview_s"],
        width=config["director"]["width"],
        height=config["director"]["height"],
    script:
        "../scripts/report_preview.py"
