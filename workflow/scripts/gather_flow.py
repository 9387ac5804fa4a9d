"""The flow chunks of one video as one folder: sstsal.pipeline.chunks.gather_flow."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):  # noqa: F821 - injected by snakemake
    from sstsal.pipeline.chunks import gather_flow

    gather_flow(
        snakemake.input.chunks,  # noqa: F821
        snakemake.output.flow,  # noqa: F821
        snakemake.input.frames,  # noqa: F821
        raw_dir=snakemake.params.raw_dir,  # noqa: F821
    )
