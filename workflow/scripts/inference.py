"""SST-Sal inference on one video: sstsal.model.predictor.predict_video (the maps and their float16 stack)."""

from sstsal.pipeline.job import inference_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.media.saliency_stack import seen_directions
    from sstsal.model.predictor import SaliencyPredictor, predict_video, temporal_context_warning

    predictor = SaliencyPredictor.from_settings(inference_job_settings(stage, snakemake.params))
    stage.facts["batch_size"] = predictor.batch_size
    frames = predict_video(
        snakemake.input.frames,
        snakemake.output.maps,
        snakemake.output.stack,
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
        predictor=predictor,
        seen=seen_directions(snakemake.input.get("info")),
    )
    stage.facts["frames"] = frames
    if warning := temporal_context_warning(frames):
        stage.warn(warning)
