"""Saliency maps of one chunk of a video: sstsal.pipeline.chunks.predict_chunk (params as inference.py)."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], threads=snakemake.threads):  # noqa: F821 - injected by snakemake
    from sstsal.pipeline.chunks import parse_chunk_label, predict_chunk

    params = snakemake.params  # noqa: F821
    predict_chunk(
        snakemake.input.frames,  # noqa: F821
        snakemake.output.chunk,  # noqa: F821
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),  # noqa: F821
        flow_dir=snakemake.input.get("flow") or None,  # noqa: F821
        checkpoint=params.checkpoint,
        no_flow=params.no_flow,
        device=params.device,
        batch_size=params.batch_size,
        threads=snakemake.threads,  # noqa: F821
    )
