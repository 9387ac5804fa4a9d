# Which videos this run has, where each stage's files are, and the input functions of the rules.

import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from sstsal.errors import SstsalError
from sstsal.pipeline.library import videos_folder


def find_videos():
    """{video id: source video path or None}: the wildcard values of this run (before exclusions).

    The videos folder is named by one normalised path (relative inside the working directory,
    absolute outside it), so the same folder spelled differently (`videos=../lib`, `videos=/data/lib/`)
    names the same inputs and reruns nothing.
    A bad folder ends the run in one `error:` line."""
    from sstsal.media.video import discover_videos
    from sstsal.pipeline.library import check_videos_folder

    try:
        if BYO_FRAMES:
            folder = Path(BYO_FRAMES)
            if not folder.is_dir():
                stop(f"inputs.frames folder {folder} does not exist")
            ids = sorted(
                p.name
                for p in folder.iterdir()
                if p.is_dir() and not p.name.startswith(".")
            )
            if not ids:
                stop(
                    f"inputs.frames folder {folder} has no subfolders: expected one folder of frames per video "
                    "(frames/<video>/<video>_<number>.png)"
                )
            sources = {}
            if Path(config["videos"]).is_dir():
                try:
                    sources = {
                        k: str(v)
                        for k, v in discover_videos(
                            check_videos_folder(config["videos"])
                        ).items()
                    }
                except SstsalError:
                    sources = {}
            return {video: sources.get(video) for video in ids}
        return {
            video: str(path)
            for video, path in discover_videos(
                check_videos_folder(config["videos"])
            ).items()
        }
    except SstsalError as exc:
        stop(exc)


def load_sample_sheet(found):
    """{video: its sample-sheet settings} from config `sheet` (a TSV), for the videos `found` in the
    folder: an unknown video, column or value stops the run in one line, before any job.
    """
    from sstsal.pipeline.sheet import load_sheet

    if not config.get("sheet"):
        return {}
    with open(
        workflow.source_path("../../schemas/sheet.schema.yaml"), encoding="utf-8"
    ) as handle:
        schema = yaml.safe_load(handle)
    try:
        return load_sheet(config["sheet"], schema, found)
    except SstsalError as exc:
        stop(exc)


def select_videos(found):
    """The videos of this run: those the `exclude` patterns or the sheet's `exclude` column name,
    and those that failed before on an unchanged file, are left out, each said in one line
    (sstsal.pipeline.library)."""
    from sstsal.pipeline.library import select_videos as select

    with_source = {video: path for video, path in found.items() if path is not None}
    selection = select(
        with_source,
        exclude=config["exclude"],
        results=prefixed(RESULTS),
        sheet_excluded={v for v, row in SHEET.items() if row.get("exclude")},
    )
    for video, reason in selection.skipped.items():
        print(f"skipped {Path(found[video]).name}: {reason}", file=sys.stderr)
    return {
        video: path for video, path in found.items() if video not in selection.skipped
    }, selection.skipped


def folder_left_out():
    """{file name: why} for the files of the videos folder that are no video of this run, each
    said once now (and again in the closing table)."""
    from sstsal.media.video import left_out_files
    from sstsal.pipeline.library import left_out_lines

    if BYO_FRAMES or not Path(config["videos"]).is_dir():
        return {}
    left = left_out_files(config["videos"])
    for line in left_out_lines(left):
        print(line, file=sys.stderr)
    return left


VIDEOS_FOLDER = videos_folder(config["videos"])
FOUND_VIDEOS = find_videos()
LEFT_OUT = folder_left_out()
SHEET = load_sample_sheet(FOUND_VIDEOS)
VIDEOS, SKIPPED = select_videos(FOUND_VIDEOS)
if not VIDEOS:
    stop(
        f"every video in {config['videos']} is left out (see the lines above): change `exclude` (or the "
        "sheet's `exclude` column), or replace the files that failed"
    )


def sheet_entry(wildcards):
    """The video's 360-degree layout columns of the sample sheet ({} when it has no row): a
    params value of probe, so only a change of these reruns the video's stages."""
    from sstsal.media.projection import SHEET_COLUMNS

    row = SHEET.get(wildcards.video, {})
    return {column: row[column] for column in SHEET_COLUMNS if column in row}


wildcard_constraints:
    video="|".join(re.escape(v) for v in sorted(VIDEOS, key=len, reverse=True)),


# ---- paths of each stage -------------------------------------------------------------------


def result(video, name):
    return f"{RESULTS}/{video}/{name}"


def source_video(wildcards):
    path = VIDEOS[wildcards.video]
    if path is None:
        raise WorkflowError(
            f"no source video for {wildcards.video} in {config['videos']}"
        )
    return user_path(path)


def model_frames(wildcards):
    """The folder of 320x240 frames the model reads (or the bring-your-own frames)."""
    if BYO_FRAMES:
        return user_path(Path(BYO_FRAMES) / wildcards.video)
    return result(wildcards.video, "frames")


def flow_source_frames(wildcards):
    """The frames the flow engine reads: extracted at the working width, or bring-your-own."""
    if BYO_FRAMES:
        return user_path(Path(BYO_FRAMES) / wildcards.video)
    return result(wildcards.video, "flow_frames")


def flow_images(wildcards):
    """[] without flow; the flow folder otherwise (bring-your-own or computed)."""
    if not USE_FLOW:
        return []
    if BYO_FLOW:
        return user_path(Path(BYO_FLOW) / wildcards.video)
    return result(wildcards.video, "flow")


def frames_manifest(wildcards):
    """The extraction record ([] with bring-your-own frames)."""
    return [] if BYO_FRAMES else result(wildcards.video, "frames.json")


def video_info(wildcards):
    """The probe record ([] when a bring-your-own video has no source file)."""
    return (
        [] if VIDEOS[wildcards.video] is None else result(wildcards.video, "video.json")
    )


def all_outputs():
    """Every final file of every video (the overlay needs the source video)."""
    outputs = []
    for video, source in VIDEOS.items():
        outputs += [
            result(video, n)
            for n in (
                "saliency.npz",
                "contact_sheet.png",
                "directions.csv",
                "provenance.json",
            )
        ]
        if source is not None:
            outputs.append(result(video, "overlay.mp4"))
    return outputs


# ---- provenance (rule in provenance.smk; records written by sstsal.pipeline.job.stage_job) ----


def stage_record(stage):
    """The provenance record a stage's job writes next to its outputs."""
    return result("{video}", f"provenance/{stage}.json")


def stage_records(wildcards):
    """The records of every stage that runs for this video."""
    video, source = wildcards.video, VIDEOS[wildcards.video]
    stages = ["validate", "inference", "summary"]
    if source is not None:
        stages += ["probe", "render"]
        if config["director"]["enabled"]:
            stages += ["director_path", "director"]
        if config["viewer"]["enabled"]:
            stages += ["director_path", "viewer"]
        stages += ["tiles"] + (["encode"] if config["encode"]["enabled"] else [])
    if not BYO_FRAMES:
        stages += ["extract_frames"]
    if USE_FLOW and not BYO_FLOW:
        stages += ["flow"] + ([] if BYO_FRAMES else ["extract_flow_frames"])
    return [result(video, f"provenance/{stage}.json") for stage in sorted(set(stages))]


# ---- chunks of long videos (config chunk_frames; rules in chunks.smk) ---------------------


def chunk_labels(wildcards):
    """The video's chunk labels ("<start>-<stop>"), known once its frames exist (checkpoint)."""
    from sstsal.pipeline.chunks import read_plan

    return read_plan(checkpoints.chunk_plan.get(video=wildcards.video).output.plan)


def flow_chunk_dirs(wildcards):
    return [
        result(wildcards.video, f"chunks/flow/{label}")
        for label in chunk_labels(wildcards)
    ]


def saliency_chunk_dirs(wildcards):
    return [
        result(wildcards.video, f"chunks/saliency/{label}")
        for label in chunk_labels(wildcards)
    ]


def flow_chunk_records(wildcards):
    return [
        result(wildcards.video, f"chunks/records/flow/{label}.json")
        for label in chunk_labels(wildcards)
    ]


def saliency_chunk_records(wildcards):
    return [
        result(wildcards.video, f"chunks/records/saliency/{label}.json")
        for label in chunk_labels(wildcards)
    ]


def video_outputs(video):
    """The final files of one video (what `rule all` asks of it)."""
    prefix = result(video, "")
    return [
        p
        for p in all_outputs()
        + viewing_outputs()
        + report_outputs()
        + streaming_outputs()
        if p.startswith(prefix)
    ]


# ---- ways to see the result (rules in viewing.smk) ------------------------------------------


def viewing_outputs():
    """director.mp4 / viewer.html (and director.csv) of every video with a source file, as enabled."""
    names = (["director.mp4"] if config["director"]["enabled"] else []) + (
        ["viewer.html"] if config["viewer"]["enabled"] else []
    )
    if names:
        names.append("director.csv")
    return [
        result(video, name)
        for video, source in VIDEOS.items()
        if source is not None
        for name in names
    ]


def report_outputs():
    """The report's copies of overlay.mp4 and director.mp4 (rules in report.smk)."""
    names = ["overlay.mp4"] + (
        ["director.mp4"] if config["director"]["enabled"] else []
    )
    return [
        result(video, f"report/{name}")
        for video, source in VIDEOS.items()
        if source is not None
        for name in names
    ]


# ---- streaming (rules in streaming.smk) -------------------------------------------------------


def streaming_outputs():
    """tiles.csv (and encoded/ with encode.enabled) of every video with a source file."""
    names = ["tiles.csv"] + (["encoded"] if config["encode"]["enabled"] else [])
    return [
        result(video, name)
        for video, source in VIDEOS.items()
        if source is not None
        for name in names
    ]
