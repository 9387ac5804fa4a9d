"""Chunk plan of one video: sstsal.pipeline.chunks.write_plan."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    from sstsal.pipeline.chunks import write_plan

    write_plan(snakemake.input.frames, snakemake.output.plan, snakemake.params.chunk_frames)
