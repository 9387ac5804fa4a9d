"""SST-Sal inference on one video: sstsal.model.predictor.predict_folder, plus the float16 map stack."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.model.predictor import temporal_context_warning
    from sstsal.pipeline.provenance import inference_facts
    from sstsal.pipeline.saliency_stack import predict_video

    params = snakemake.params
    frames = predict_video(
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
    stage.facts.update(inference_facts(params), frames=frames)
    if warning := temporal_context_warning(frames):
        stage.warn(warning)
