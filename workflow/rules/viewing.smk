# Ways to see the result: the director's cut (director.enabled) and the 360-degree viewer page
# (viewer.enabled). Both follow the camera path of director.csv.


rule director_path:
    """The director's camera path: one row per source frame (time, yaw, pitch, fov, cut)."""
    input:
        stack=result("{video}", "saliency.npz"),
        info=result("{video}", "video.json"),
    output:
        report(
            result("{video}", "director.csv"),
            caption="../report/director_path.rst",
            category="Director's cut",
            labels={"video": "{video}", "file": "camera path"},
        ),
        record=stage_record("director_path"),
    log:
        "logs/director_path/{video}.log",
    benchmark:
        "logs/benchmarks/director_path/{video}.tsv"
    group:
        job_group("views")
    # a few seconds of numpy on the maps: on a cluster it travels in its video's views job (job_groups),
    # or runs where snakemake runs
    localrule: True
    conda:
        "../envs/sstsal.yaml"
    params:
        camera=DIRECTOR_CAMERA,
        version=stage_version("camera"),
    script:
        "../scripts/director_path.py"


rule director:
    """The director's cut along director.csv, from the full-resolution source: director.width x height,
    or less where the source holds fewer pixels across the field of view."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
        path=result("{video}", "director.csv"),
    output:
        result("{video}", "director.mp4"),  # the report shows results/{video}/report/director.mp4 (report.smk)
        record=stage_record("director"),
    log:
        "logs/director/{video}.log",
    benchmark:
        "logs/benchmarks/director/{video}.tsv"
    group:
        job_group("views")
    conda:
        "../envs/sstsal.yaml"
    # ffmpeg decodes the full-resolution source, cv2.remap and x264 share the rest
    threads: 2
    resources:
        mem_mb=per_attempt(8000),
        runtime=per_attempt(120),
    params:
        width=config["director"]["width"],
        height=config["director"]["height"],
        crf=config["director"]["crf"],
        preset=config["director"]["preset"],
        version=stage_version("director"),
    script:
        "../scripts/director.py"


rule viewer:
    """The HTML page: the video on a sphere with the heatmap, the director's path to follow."""
    input:
        video=source_video,
        info=result("{video}", "video.json"),
        maps=result("{video}", "saliency"),  # read one PNG at a time: memory flat in the video's length
        path=result("{video}", "director.csv"),
    output:
        # the whole page, for disk and mail; the report gets the lighter page made to fit its limits
        page=result("{video}", "viewer.html"),
        # its video and data: inside the page as well up to viewer.embed_mb, else played from here
        video=result("{video}", "viewer.mp4"),
        data=result("{video}", "viewer.json"),
        report_page=report(
            result("{video}", "viewer_report.html"),
            caption="../report/viewer.rst",
            category="360-degree viewer",
            labels={"video": "{video}"},
        ),
        record=stage_record("viewer"),
    log:
        "logs/viewer/{video}.log",
    benchmark:
        "logs/benchmarks/viewer/{video}.tsv"
    group:
        job_group("views")
    conda:
        "../envs/sstsal.yaml"
    threads: 2
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        width=config["viewer"]["width"],
        crf=config["viewer"]["crf"],
        preset=config["viewer"]["preset"],
        audio_kbps=config["viewer"]["audio_kbps"],
        embed_mb=config["viewer"]["embed_mb"],
        preview_s=config["report"]["preview_s"],
        alpha=config["render"]["alpha"],
        colormap=config["render"]["colormap"],
        version=stage_version("viewer"),
    script:
        "../scripts/viewer.py"
