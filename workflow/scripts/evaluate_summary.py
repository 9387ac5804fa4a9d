"""Summary table over videos and one plot per metric over time: sstsal.evaluation.evaluate."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    from sstsal.evaluation.evaluate import plot_metric_over_time, summarise_videos

    params = snakemake.params
    metrics_csvs = dict(zip(params.videos, snakemake.input.metrics))
    counts = dict(zip(params.videos, snakemake.input.counts))
    summarise_videos(metrics_csvs, counts, snakemake.output.table, params.not_evaluated)
    for metric, png in zip(params.metrics, snakemake.output.plots):
        plot_metric_over_time(metric, metrics_csvs, png)
