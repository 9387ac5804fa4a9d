"""Tile scores of one video: sstsal.streaming.tiles.write_tiles."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.media.video import VideoInfo
    from sstsal.streaming.tiles import TileSettings, write_tiles

    params = snakemake.params.settings
    settings = TileSettings(params["segment_s"], tuple(params["layouts"]), tuple(params["fov"]))
    info = VideoInfo.from_json(snakemake.input.info)
    stage.facts["segments"] = write_tiles(
        snakemake.input.stack,
        snakemake.output.table,
        fps=info.fps,
        frame_count=info.frame_count,
        settings=settings,
        plot=snakemake.output.plot,
    )
