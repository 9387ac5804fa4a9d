"""Probe one video: sstsal.media.video.probe_video -> results/{video}/video.json."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    import sys

    from sstsal.atomic import write_text
    from sstsal.media.video import probe_video

    info = probe_video(snakemake.input[0])
    if info.aspect_warning:
        stage.warn(info.aspect_warning)
    print(info.to_json(), file=sys.stderr)
    write_text(snakemake.output[0], info.to_json())
