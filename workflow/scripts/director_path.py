"""Camera path of the director's cut of one video: sstsal.viewing.director.write_director_path."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.camera import DirectorSettings
    from sstsal.viewing.director import write_director_path

    write_director_path(
        snakemake.input.stack,  # noqa: F821
        VideoInfo.from_json(snakemake.input.info),  # noqa: F821
        snakemake.output[0],  # noqa: F821
        DirectorSettings(**snakemake.params.camera),  # noqa: F821
    )
