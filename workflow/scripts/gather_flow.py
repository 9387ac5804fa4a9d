"""The flow chunks of one video as one folder: sstsal.pipeline.chunks.gather_flow."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.pipeline.chunks import gather_flow
    from sstsal.pipeline.provenance import chunk_facts

    gather_flow(
        snakemake.input.chunks,
        snakemake.output.flow,
        snakemake.input.frames,
        raw_dir=snakemake.params.raw_dir,
    )
    stage.facts.update(chunk_facts(snakemake.input.records))
