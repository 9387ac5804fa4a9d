"""Summary table over videos and one plot per metric over time: sstsal.evaluation.evaluate."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):  # noqa: F821 - snakemake is injected by the script directive
    from sstsal.evaluation.evaluate import plot_metric_over_time, summarise_videos

    params = snakemake.params  # noqa: F821
    metrics_csvs = dict(zip(params.videos, snakemake.input.metrics))  # noqa: F821
    counts = dict(zip(params.videos, snakemake.input.counts))  # noqa: F821
    summarise_videos(metrics_csvs, counts, snakemake.output.table, params.not_evaluated)  # noqa: F821
    for metric, png in zip(params.metrics, snakemake.output.plots):  # noqa: F821
        plot_metric_over_time(metric, metrics_csvs, png)
