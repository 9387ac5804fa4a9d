"""360-degree viewer page of one video: sstsal.viewing.viewer.make_viewer."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake):
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.viewer import ViewerSettings, make_viewer

    params = snakemake.params
    make_viewer(
        snakemake.input.video,
        snakemake.input.maps,
        snakemake.input.path,
        snakemake.output.page,
        settings=ViewerSettings(width=params.width, crf=params.crf, preset=params.preset,
                                audio_kbps=params.audio_kbps, alpha=params.alpha, colormap=params.colormap,
                                embed_mb=params.embed_mb),  # fmt: skip
        info=VideoInfo.from_json(snakemake.input.info),
        report_html=snakemake.output.report_page,
        preview_s=params.preview_s,
    )
