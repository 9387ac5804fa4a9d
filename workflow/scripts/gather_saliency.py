"""The saliency chunks of one video as the maps folder and float16 stack: sstsal.pipeline.chunks.gather_saliency."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.media.naming import list_frames
    from sstsal.model.predictor import temporal_context_warning
    from sstsal.pipeline.chunks import gather_saliency
    from sstsal.pipeline.provenance import chunk_facts

    gather_saliency(
        snakemake.input.chunks,
        snakemake.output.maps,
        snakemake.output.stack,
        snakemake.input.frames,
    )
    frames = len(list_frames(snakemake.input.frames))
    stage.facts.update(chunk_facts(snakemake.input.records), frames=frames)
    if warning := temporal_context_warning(frames):
        stage.warn(warning)
