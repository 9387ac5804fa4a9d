"""360-degree viewer page of one video: sstsal.viewing.viewer.make_viewer."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.viewer import ViewerSettings, make_viewer

    params = snakemake.params  # noqa: F821
    make_viewer(
        snakemake.input.video,  # noqa: F821
        snakemake.input.stack,  # noqa: F821
        snakemake.input.path,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        settings=ViewerSettings(width=params.width, crf=params.crf, preset=params.preset,
                                audio_kbps=params.audio_kbps, alpha=params.alpha, colormap=params.colormap),  # fmt: skip
        info=VideoInfo.from_json(snakemake.input.info),  # noqa: F821
    )
