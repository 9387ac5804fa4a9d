"""Optical flow images of one video: sstsal.pipeline.pieces.compute_flow_in_pieces (compute_flow_folder, resumable)."""

from pathlib import Path

from sstsal.pipeline.job import flow_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    import logging

    from sstsal.pipeline.pieces import compute_flow_in_pieces, piece_frames

    params = snakemake.params
    requested = snakemake.config["flow"]["method"]
    if requested != params.method:
        logging.getLogger("sstsal").info(f"flow.method {requested} -> {params.method} (device setting: {params.device})")
    # no flow.npz among the flow images (validation rejects it): the raw flow goes out as .npy files
    compute_flow_in_pieces(
        snakemake.input.frames,
        snakemake.output.flow,
        flow_job_settings(stage, params),
        Path(snakemake.output.flow).parent / "pieces" / "flow",
        frames_per_piece=piece_frames(snakemake.config["piece_seconds"], snakemake.config["extract"]["fps"]),
        fingerprint=dict(params.items()),
        raw_dir=params.raw_dir,
    )
