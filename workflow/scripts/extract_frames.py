"""Extract sampled frames: sstsal.media.frames.extract_frames at model size or at the flow width."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.media.frames import extract_frames
    from sstsal.media.video import VideoInfo

    params = snakemake.params  # noqa: F821
    extract_frames(
        snakemake.input.video,  # noqa: F821
        snakemake.output.frames,  # noqa: F821
        name=snakemake.wildcards.video,  # noqa: F821
        size=None if params.size is None else tuple(params.size),
        width=params.get("width"),
        sampling=params.sampling,
        target_fps=params.fps,
        manifest=snakemake.output.get("manifest"),  # noqa: F821
        info=VideoInfo.from_json(snakemake.input.info),  # noqa: F821
    )
