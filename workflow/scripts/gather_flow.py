"""The flow chunks of one video as one folder: sstsal.pipeline.chunks.gather_flow."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    from sstsal.pipeline.chunks import gather_flow

    gather_flow(
        snakemake.input.chunks,
        snakemake.output.flow,
        snakemake.input.frames,
        raw_dir=snakemake.params.raw_dir,
    )
