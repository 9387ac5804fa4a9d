"""Per-frame metrics of one video against its ground truth: sstsal.evaluation.evaluate."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):  # noqa: F821 - snakemake is injected by the script directive
    import sys

    from sstsal.evaluation.evaluate import evaluate_folders, write_counts, write_metrics_csv

    result = evaluate_folders(
        snakemake.input.maps,  # noqa: F821
        snakemake.input.get("gt") or None,  # noqa: F821
        snakemake.input.get("fixations") or None,  # noqa: F821
        video=snakemake.wildcards.video,  # noqa: F821
    )
    write_metrics_csv(result, snakemake.output.metrics)  # noqa: F821
    write_counts(result, snakemake.output.counts)  # noqa: F821
    print(result.summary(), file=sys.stderr)
