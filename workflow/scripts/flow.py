"""Optical flow images of one video: sstsal.flow.engines.compute_flow_folder."""

from sstsal.pipeline.job import flow_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    import logging

    from sstsal.flow.engines import compute_flow_folder

    params = snakemake.params
    requested = snakemake.config["flow"]["method"]
    if requested != params.method:
        logging.getLogger("sstsal").info(f"flow.method {requested} -> {params.method} (device setting: {params.device})")
    # no flow.npz among the flow images (validation rejects it): the raw flow goes out as .npy files
    compute_flow_folder(
        snakemake.input.frames,
        snakemake.output.flow,
        flow_job_settings(stage, params),
        raw_npy_dir=params.raw_dir,
    )
