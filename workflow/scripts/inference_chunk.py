"""Saliency maps of one chunk of a video: sstsal.pipeline.chunks.predict_chunk (params as inference.py)."""

from sstsal.pipeline.job import inference_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.pipeline.chunks import parse_chunk_label, predict_chunk
    from sstsal.pipeline.provenance import inference_facts

    params = snakemake.params
    predict_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        inference_settings(snakemake.params),
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
    )
    stage.facts.update(inference_facts(params))
