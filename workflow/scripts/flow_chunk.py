"""Flow images of one chunk of a video: sstsal.pipeline.chunks.compute_flow_chunk.

The params are the whole-video flow rule's, mapped by the same sstsal.pipeline.job.flow_job_settings.
"""

from sstsal.pipeline.job import flow_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.pipeline.chunks import compute_flow_chunk, parse_chunk_label

    params = snakemake.params
    compute_flow_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        flow_job_settings(stage, params),
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        raw_npy=params.raw_dir is not None,
    )
