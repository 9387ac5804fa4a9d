"""Overlay video of one video: sstsal.media.render.render_overlay."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.media.render import render_overlay
    from sstsal.media.video import VideoInfo

    params = snakemake.params  # noqa: F821
    render_overlay(
        snakemake.input.video,  # noqa: F821
        snakemake.input.stack,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        width=params.width,
        alpha=params.alpha,
        colormap=params.colormap,
        interpolate=params.interpolate,
        crf=params.crf,
        preset=params.preset,
        info=VideoInfo.from_json(snakemake.input.info),  # noqa: F821
    )
