"""Contact sheet and salient directions of one video: sstsal.viewing.summary."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.viewing.summary import write_summary

    params = snakemake.params
    write_summary(
        snakemake.input.frames,
        snakemake.input.stack,
        snakemake.output.sheet,
        snakemake.output.directions,
        info=snakemake.input.get("info") or None,
        count=params.frames,
        columns=params.columns,
        alpha=params.alpha,
        colormap=params.colormap,
    )
