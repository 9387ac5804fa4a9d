"""SST-Sal inference on one video: sstsal.pipeline.pieces.predict_video_in_pieces (the maps and their float16 stack)."""

from pathlib import Path

from sstsal.pipeline.job import inference_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.media.saliency_stack import seen_directions
    from sstsal.model.predictor import SaliencyPredictor, temporal_context_warning
    from sstsal.pipeline.pieces import piece_frames, predict_video_in_pieces

    predictor = SaliencyPredictor.from_settings(inference_job_settings(stage, snakemake.params))
    stage.facts["batch_size"] = predictor.batch_size
    frames = predict_video_in_pieces(
        snakemake.input.frames,
        snakemake.output.maps,
        snakemake.output.stack,
        Path(snakemake.output.stack).parent / "pieces" / "saliency",
        frames_per_piece=piece_frames(snakemake.config["piece_seconds"], snakemake.config["extract"]["fps"]),
        fingerprint=dict(snakemake.params.items()),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
        predictor=predictor,
        seen=seen_directions(snakemake.input.get("info")),
    )
    stage.facts["frames"] = frames
    if warning := temporal_context_warning(frames):
        stage.warn(warning)
