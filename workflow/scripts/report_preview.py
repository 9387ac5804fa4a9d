"""The report's copy of a video's overlay or director's cut: sstsal.viewing.preview.report_preview."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake):
    from sstsal.media.video import VideoInfo
    from sstsal.viewing.preview import report_preview

    info = VideoInfo.from_json(snakemake.input.info)
    report_preview(snakemake.input.clip, snakemake.output[0], seconds=snakemake.params.seconds,
                   duration_s=info.frame_count / info.fps)  # fmt: skip
