"""Director's cut of one video along its camera path: sstsal.viewing.director.render_director."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake):
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.camera import CameraPath, DirectorSettings
    from sstsal.viewing.director import render_director

    params = snakemake.params
    render_director(
        snakemake.input.video,
        CameraPath.read_csv(snakemake.input.path),
        snakemake.output[0],
        settings=DirectorSettings(width=params.width, height=params.height),
        crf=params.crf,
        preset=params.preset,
        info=VideoInfo.from_json(snakemake.input.info),
    )
