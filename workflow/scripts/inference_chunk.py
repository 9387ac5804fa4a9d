"""Saliency maps of one chunk of a video: sstsal.pipeline.chunks.predict_chunk (params as inference.py)."""

from sstsal.pipeline.job import gpu_request, job_log

with job_log(snakemake.log[0], threads=snakemake.threads, **gpu_request(snakemake)):
    from sstsal.pipeline.chunks import parse_chunk_label, predict_chunk

    params = snakemake.params
    predict_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        flow_dir=snakemake.input.get("flow") or None,
        checkpoint=params.checkpoint,
        no_flow=params.no_flow,
        device=params.device,
        batch_size=params.batch_size,
        threads=snakemake.threads,
    )
