"""Extract sampled frames: sstsal.media.frames.extract_frames at model size or at the flow width."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.media.frames import extract_frames
    from sstsal.media.video import VideoInfo

    params = snakemake.params
    extract_frames(
        snakemake.input.video,
        snakemake.output.frames,
        name=snakemake.wildcards.video,
        size=None if params.size is None else tuple(params.size),
        width=params.get("width"),
        sampling=params.sampling,
        target_fps=params.fps,
        manifest=snakemake.output.get("manifest"),
        info=VideoInfo.from_json(snakemake.input.info),
    )
