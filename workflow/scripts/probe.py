"""Probe one video: sstsal.media.video.probe_video -> results/{video}/video.json (360-degree layout included)."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    import sys

    from sstsal.media.video import probe_video
    from sstsal.pipeline.atomic import write_text

    info = probe_video(snakemake.input[0], sheet=dict(snakemake.params.sheet))
    if info.aspect_warning:
        stage.warn(info.aspect_warning)
    for key, why in info.spherical["reasons"].items():
        if why.startswith("default ("):
            stage.warn(f"{key} {info.spherical[key]}: {why}; set it in the sample sheet if that is wrong")
    stage.facts.update(spherical=info.spherical, metadata=info.metadata, side_data=info.side_data)
    print(info.to_json(), file=sys.stderr)
    write_text(snakemake.output[0], info.to_json())
