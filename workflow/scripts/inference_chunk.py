"""Saliency maps of one chunk of a video: sstsal.pipeline.chunks.predict_chunk (params as inference.py)."""

from sstsal.pipeline.job import inference_settings, job_log

with job_log(snakemake.log[0], threads=snakemake.threads):
    from sstsal.pipeline.chunks import parse_chunk_label, predict_chunk

    predict_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        inference_settings(snakemake.params),
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
    )
