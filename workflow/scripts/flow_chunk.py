"""Flow images of one chunk of a video: sstsal.chunks.compute_flow_chunk.

The params are the whole-video flow rule's; they map onto compute_flow_folder's arguments
exactly as workflow/scripts/flow.py maps them (keep the two in step).
"""

from sstsal.snakemake_job import job_log

with job_log(snakemake.log[0], threads=snakemake.threads):  # noqa: F821 - injected by snakemake
    from sstsal.chunks import compute_flow_chunk, parse_chunk_label

    params = snakemake.params  # noqa: F821
    compute_flow_chunk(
        snakemake.input.frames,  # noqa: F821
        snakemake.output.chunk,  # noqa: F821
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),  # noqa: F821
        raw_npy=params.raw_dir is not None,
        method=params.method,
        checkpoint=params.checkpoint or "auto",
        width=params.width,
        iters=params.iters,
        seam=params.seam,
        device=params.device,
        color_order=params.color_order,
        save_raw=False,  # no flow.npz among the flow images (validation); raw flow: the raw .npy files
    )
