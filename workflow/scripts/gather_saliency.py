"""The saliency chunks of one video as the maps folder and float16 stack: sstsal.pipeline.chunks.gather_saliency."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):  # noqa: F821 - injected by snakemake
    from sstsal.pipeline.chunks import gather_saliency

    gather_saliency(
        snakemake.input.chunks,  # noqa: F821
        snakemake.output.maps,  # noqa: F821
        snakemake.output.stack,  # noqa: F821
        snakemake.input.frames,  # noqa: F821
    )
