"""Optical flow images of one video: sstsal.flow.engines.compute_flow_folder."""

from sstsal.pipeline.job import flow_options, stage_job

with stage_job(snakemake, threads=True) as stage:
    import sys

    from sstsal.flow.engines import compute_flow_folder
    from sstsal.pipeline.provenance import flow_facts

    params = snakemake.params
    requested = snakemake.config["flow"]["method"]
    if requested != params.method:
        print(f"flow.method {requested} -> {params.method} (device setting: {params.device})", file=sys.stderr)
    compute_flow_folder(
        snakemake.input.frames,
        snakemake.output.flow,
        raw_npy_dir=params.raw_dir,
        **flow_options(params),
    )
    stage.facts.update(flow_facts(params))
