"""Ground truth of one video from its raw gaze recordings: sstsal.gaze.groundtruth."""

from sstsal.pipeline.job import job_log

with job_log(snakemake.log[0]):
    from sstsal.gaze.groundtruth import GroundTruthSettings, make_ground_truth, timeline_for
    from sstsal.media.video import VideoInfo

    info = VideoInfo.from_json(snakemake.input.info)
    make_ground_truth(
        list(snakemake.input.gaze),
        snakemake.output.fixations.rsplit("/", 1)[0],
        video=snakemake.wildcards.video,
        timeline=timeline_for(fps=info.fps, frame_count=info.frame_count, frames_dir=snakemake.input.frames),
        settings=GroundTruthSettings.from_config(snakemake.params.settings),
    )
