"""Uniform and saliency-driven encodes of one video: sstsal.streaming.encoding.encode_video."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake, threads=True) as stage:
    from sstsal.media.video import VideoInfo
    from sstsal.streaming.encoding import EncodeSettings, encode_video

    record = encode_video(
        snakemake.input.video,
        snakemake.input.tiles,
        snakemake.output.encoded,
        settings=EncodeSettings(**snakemake.params.settings),
        info=VideoInfo.from_json(snakemake.input.info),
        threads=snakemake.threads,
    )
    stage.facts.update(video_kbps=record["video_kbps"], size_ratio=record["size_ratio"])
