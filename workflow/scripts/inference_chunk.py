"""Saliency maps of one chunk of a video: sstsal.pipeline.chunks.predict_chunk (params as inference.py)."""

from sstsal.pipeline.job import inference_job_settings, stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.media.saliency_stack import seen_directions
    from sstsal.model.predictor import SaliencyPredictor
    from sstsal.pipeline.chunks import parse_chunk_label, predict_chunk

    predictor = SaliencyPredictor.from_settings(inference_job_settings(stage, snakemake.params))
    stage.facts["batch_size"] = predictor.batch_size
    predict_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        flow_dir=snakemake.input.get("flow") or None,
        threads=snakemake.threads,
        predictor=predictor,
        seen=seen_directions(snakemake.input.get("info")),
    )
