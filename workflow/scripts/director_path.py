"""Camera path of the director's cut of one video: sstsal.viewing.director.write_director_path."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    import dataclasses

    from sstsal.media.video import VideoInfo
    from sstsal.viewing.camera import DirectorSettings
    from sstsal.viewing.director import write_director_path

    measures = write_director_path(
        snakemake.input.stack,
        VideoInfo.from_json(snakemake.input.info),
        snakemake.output[0],
        DirectorSettings(**snakemake.params.camera),
    )
    stage.facts["path_measures"] = dataclasses.asdict(measures)
