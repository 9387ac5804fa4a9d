"""SST-Sal inference on one video: sstsal.model.predictor.predict_folder, plus the float16 map stack."""

from sstsal.pipeline.job import inference_settings, job_log

with job_log(snakemake.log[0], outputs=snakemake.output, threads=snakemake.threads):
    from sstsal.pipeline.saliency_stack import predict_video

    predict_video(
        snakemake.input.frames,
        snakemake.output.maps,
        snakemake.output.stack,
        inference_settings(snakemake.params),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
    )
