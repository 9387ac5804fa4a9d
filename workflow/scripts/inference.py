"""SST-Sal inference on one video: sstsal.model.predictor.predict_folder, plus the float16 map stack."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0], outputs=snakemake.output, threads=snakemake.threads):  # noqa: F821 - injected by snakemake
    from sstsal.pipeline.saliency_stack import predict_video

    params = snakemake.params  # noqa: F821
    predict_video(
        snakemake.input.frames,  # noqa: F821
        snakemake.output.maps,  # noqa: F821
        snakemake.output.stack,  # noqa: F821
        flow_dir=snakemake.input.get("flow") or None,  # noqa: F821
        checkpoint=params.checkpoint,
        no_flow=params.no_flow,
        device=params.device,
        batch_size=params.batch_size,
        threads=snakemake.threads,  # noqa: F821
    )
