"""Contact sheet and salient directions of one video: sstsal.pipeline.summary."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.pipeline.summary import write_summary

    params = snakemake.params  # noqa: F821
    write_summary(
        snakemake.input.frames,  # noqa: F821
        snakemake.input.stack,  # noqa: F821
        snakemake.output.sheet,  # noqa: F821
        snakemake.output.directions,  # noqa: F821
        info=snakemake.input.get("info") or None,  # noqa: F821
        count=params.frames,
        columns=params.columns,
        alpha=params.alpha,
        colormap=params.colormap,
    )
