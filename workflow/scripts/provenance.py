"""Gather one video's stage records into results/{video}/provenance.json: sstsal.pipeline.provenance."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output):
    from sstsal.pipeline.provenance import write_provenance

    write_provenance(
        snakemake.output[0],
        snakemake.input.records,
        video=snakemake.wildcards.video,
        config=snakemake.params.config,
        source=snakemake.params.source,
    )
