"""The saliency chunks of one video as the maps folder and float16 stack: sstsal.pipeline.chunks.gather_saliency."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    from sstsal.pipeline.chunks import gather_saliency

    gather_saliency(
        snakemake.input.chunks,
        snakemake.output.maps,
        snakemake.output.stack,
        snakemake.input.frames,
    )
