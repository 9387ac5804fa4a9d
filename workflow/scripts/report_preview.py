"""The report's copy of a video's overlay or director's cut: sstsal.viewing.preview.report_preview."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake):
    from sstsal.viewing.preview import report_preview

    report_preview(snakemake.input[0], snakemake.output[0], seconds=snakemake.params.seconds)
