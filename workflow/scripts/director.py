"""Director's cut of one video along its camera path: sstsal.viewing.director.render_director."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.camera import CameraPath, DirectorSettings
    from sstsal.viewing.director import render_director

    params = snakemake.params  # noqa: F821
    render_director(
        snakemake.input.video,  # noqa: F821
        CameraPath.read_csv(snakemake.input.path),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        settings=DirectorSettings(width=params.width, height=params.height),
        crf=params.crf,
        preset=params.preset,
        info=VideoInfo.from_json(snakemake.input.info),  # noqa: F821
    )
