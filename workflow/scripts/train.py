"""Train SST-Sal on the workflow's frames, flow and ground truth: sstsal.training.loop."""

from sstsal.pipeline.job import gpu_settings, job_log

with job_log(snakemake.log[0], threads=snakemake.threads, **gpu_settings(snakemake)):
    from pathlib import Path

    from sstsal.training.config import TrainConfig
    from sstsal.training.data import DataLayout
    from sstsal.training.loop import resume_or_start

    params = snakemake.params
    config = TrainConfig(**params.settings, use_flow=params.use_flow)
    layout = DataLayout(frames=params.frames, flow=params.flow, gt=params.gt)
    resume_or_start(
        layout,
        list(params.videos),
        Path(snakemake.output.model).parent,
        config,
        device=params.device,
        workers=min(4, snakemake.threads),
    )
