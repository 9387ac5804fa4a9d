"""SST-Sal inference on one video: sstsal.model.predictor.predict_folder, plus the float16 map stack."""

from sstsal.pipeline.job import inference_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.model.predictor import temporal_context_warning
    from sstsal.pipeline.provenance import inference_facts
    from sstsal.pipeline.saliency_stack import predict_video, seen_directions

    params = snakemake.params
    frames = predict_video(
        snakemake.input.frames,
        snakemake.output.maps,
        snakemake.output.stack,
        inference_settings(snakemake.params),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
        seen=seen_directions(snakemake.input.get("info")),
    )
    stage.facts.update(inference_facts(params), frames=frames)
    if warning := temporal_context_warning(frames):
        stage.warn(warning)
