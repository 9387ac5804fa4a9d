"""Optical flow images of one video: sstsal.flow.engines.compute_flow_folder."""

from sstsal.pipeline.job import flow_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    import sys

    from sstsal.flow.engines import compute_flow_folder
    from sstsal.pipeline.provenance import flow_facts

    params = snakemake.params
    requested = snakemake.config["flow"]["method"]
    if requested != params.method:
        print(f"flow.method {requested} -> {params.method} (device setting: {params.device})", file=sys.stderr)
    # no flow.npz among the flow images (validation rejects it): the raw flow goes out as .npy files
    compute_flow_folder(
        snakemake.input.frames, snakemake.output.flow, flow_settings(params), raw_npy_dir=params.raw_dir
    )
    stage.facts.update(flow_facts(params))
