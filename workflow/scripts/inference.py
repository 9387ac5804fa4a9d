"""SST-Sal inference on one video: sstsal.model.predictor.predict_folder, plus the float16 map stack."""

from sstsal.pipeline.job import gpu_request, job_log

with job_log(snakemake.log[0], outputs=snakemake.output, threads=snakemake.threads, **gpu_request(snakemake)):
    from sstsal.pipeline.saliency_stack import predict_video

    params = snakemake.params
    predict_video(
        snakemake.input.frames,
        snakemake.output.maps,
        snakemake.output.stack,
        flow_dir=snakemake.input.get("flow") or None,
        checkpoint=params.checkpoint,
        no_flow=params.no_flow,
        device=params.device,
        batch_size=params.batch_size,
        threads=snakemake.threads,
    )
