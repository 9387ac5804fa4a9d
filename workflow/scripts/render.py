"""Overlay video of one video: sstsal.media.render.render_overlay."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.media.render import render_overlay
    from sstsal.media.video import VideoInfo

    params = snakemake.params
    render_overlay(
        snakemake.input.video,
        snakemake.input.stack,
        snakemake.output[0],
        width=params.width,
        alpha=params.alpha,
        colormap=params.colormap,
        interpolate=params.interpolate,
        crf=params.crf,
        preset=params.preset,
        info=VideoInfo.from_json(snakemake.input.info),
    )
