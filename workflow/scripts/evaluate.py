"""Per-frame metrics of one video against its ground truth: sstsal.evaluation.evaluate."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    import sys

    from sstsal.evaluation.baselines import BaselineSettings
    from sstsal.evaluation.evaluate import evaluate_folders, write_counts, write_metrics_csv

    result = evaluate_folders(
        snakemake.input.maps,
        snakemake.input.get("gt") or None,
        snakemake.input.get("fixations") or None,
        video=snakemake.wildcards.video,
        baselines=BaselineSettings(inter_observer_sigma_deg=snakemake.params.observer_sigma),
    )
    write_metrics_csv(result, snakemake.output.metrics)
    write_counts(result, snakemake.output.counts)
    print(result.summary(), file=sys.stderr)
