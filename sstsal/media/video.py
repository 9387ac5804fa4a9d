"""Video discovery and probing with the bundled ffmpeg binary (no ffprobe needed).

imageio-ffmpeg ships an ``ffmpeg`` binary but no ``ffprobe``, so the stream facts come from
the header summary ``ffmpeg -i`` prints, and the frame count plus an integrity check come from
one pass over the video packets (``-c copy``, no decoding, fast even for 8K files).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import unicodedata
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg

from sstsal.errors import InputError
from sstsal.media.projection import SphericalLayout, decide_layout
from sstsal.media.spherical_metadata import metadata_from_side_data, read_spherical_metadata

log = logging.getLogger(__name__)

# Containers the bundled ffmpeg reads (MP4/MOV, Matroska, AVI, MPEG-TS) under the names cameras,
# SDKs and websites give them: .ts/.mts/.m2ts (HLS segments, AVCHD camcorders), .insv (Insta360
# raw, MP4), .lrv (GoPro/Insta360 low-resolution preview, MP4), .360 (GoPro MAX, MP4).
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".mts", ".m2ts", ".insv", ".lrv", ".360")
# Files that are no video, named as such when they are left out of a run
NOT_VIDEO_SUFFIXES = (".txt", ".md", ".csv", ".tsv", ".json", ".yaml", ".yml", ".xml", ".srt", ".vtt", ".pdf", ".jpg",
                      ".jpeg", ".png", ".heic", ".dng", ".insp", ".wav", ".mp3", ".aac", ".m4a", ".flac", ".zip",
                      ".gz", ".log", ".html", ".thm", ".lrf", ".gpr")  # fmt: skip
# Demuxer messages about metadata boxes it does not know (e.g. a V2 mesh projection): no sign of
# damage, the media data is read as usual
_METADATA_MESSAGE = re.compile(r"projection type|spherical|stereo ?3d|mshp|sv3d|st3d|side data", re.I)
# SEI NAL unit types: H.264 6, HEVC 39/40 (prefix/suffix). Dropped before decoding when ffmpeg's
# filters refuse a frame whose SEI repeats the container's stereo metadata.
_ADDRESS = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")  # ffmpeg's "[in#0 @ 0x55d6...] " prefix
_SEI_UNITS = {"h264": "6", "hevc": "39|40"}

# Bump when a change alters what a stage built on these facts writes (see workflow params).
OUTPUT_VERSION = 3

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data|Attachment): (.*)$")
_SIZE = re.compile(r"(?<![\dx])(\d{2,6})x(\d{2,6})(?![\dx])")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
# "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67, progressive)": pixel format, then colour facts
_PIXEL_FORMAT = re.compile(r"\b((?:yuv|yuvj|gbr|rgb|bgr|nv|p0|gray|ya)\w*?)(?:\(([^)]*)\))?(?:,|$)")
_SIDE_DATA = re.compile(r"^\s+(Stereo 3D|Spherical Mapping|Stereoscopic 3D|spherical|stereo3d)\s*:\s*(.*)$", re.I)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (or IMAGEIO_FFMPEG_EXE)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    """What the later stages need to know about one source video."""

    path: str
    width: int  # displayed width after rotation, pixels
    height: int
    fps: float  # average frame rate as ffmpeg reports it
    rate: str  # the same as an exact fraction "num/den" for encoders
    frame_count: int  # video packets in the file (== decoded frames for the usual codecs)
    duration: float  # seconds, from the container header
    has_audio: bool
    codec: str
    # What the video is as 360-degree media (SphericalLayout.to_dict()), the spherical metadata
    # found in the file and ffmpeg's side-data lines; None in records written before they existed.
    spherical: dict | None = None
    metadata: dict | None = None
    side_data: list[str] | None = None
    # ffmpeg input options every decode of this file needs (e.g. {"bsf:v": ...}); None: none
    input_options: dict | None = None
    notes: list[str] | None = None  # what the probe noticed that is no error

    @property
    def layout(self) -> SphericalLayout:
        """How the frames become the model's mono equirectangular view (identity when unknown)."""
        if self.spherical is None:
            return SphericalLayout(width=self.width, height=self.height)
        return SphericalLayout.from_dict(self.spherical)

    @property
    def view_width(self) -> int:
        """Width of the equirectangular view every later stage works on."""
        return self.layout.view_size()[0]

    @property
    def view_height(self) -> int:
        return self.layout.view_size()[1]

    @property
    def aspect_warning(self) -> str | None:
        """A message when the frame is not 2:1 and no 360-degree layout explains it."""
        if self.spherical is not None and self.spherical.get("reasons", {}).get("projection", "").startswith(
            ("spherical metadata", "sample sheet", "content")
        ):
            return None
        if abs(self.width - 2 * self.height) > max(2, 0.01 * self.width):
            return (
                f"{Path(self.path).name} is {self.width}x{self.height}, not 2:1: it is probably not an "
                "equirectangular 360-degree video; processing it anyway"
            )
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, path: str | Path) -> VideoInfo:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def input_options(info: VideoInfo | None) -> dict:
    """The ffmpeg input options (ffmpeg-python keywords) to decode the video of ``info``."""
    return dict(info.input_options or {}) if info is not None else {}


def left_out_files(folder: str | Path) -> dict[str, str]:
    """{file name: why it is not one of the run's videos} for every other entry of ``folder``."""
    left: dict[str, str] = {}
    for path in sorted(Path(folder).iterdir()):
        suffix = path.suffix.lower()
        if path.name.startswith("."):
            why = "a hidden file"
        elif path.is_dir():
            why = "a folder (only the files directly in the videos folder are read)"
        elif suffix in VIDEO_SUFFIXES:
            continue
        elif suffix in NOT_VIDEO_SUFFIXES:
            why = f"not a video ({suffix} file)"
        else:
            why = (f"unknown extension {suffix or '(none)'}: videos end in {', '.join(VIDEO_SUFFIXES)}; rename it if "
                   "it is one")  # fmt: skip
        left[path.name] = why
    return left


def discover_videos(folder: str | Path) -> dict[str, Path]:
    """Map each video's file stem to its path, for the video files directly in ``folder``.

    Suffixes in VIDEO_SUFFIXES in any letter case; hidden files are ignored. Stems are
    NFC-normalised so that names typed on different systems compare equal.
    Raises InputError for a missing folder, a folder without videos, or two files whose
    stems collide (the stem names every output, so they would overwrite each other).
    """
    folder = Path(folder)
    if folder.is_file():
        raise InputError(
            f"video folder {folder} is a file, not a folder: point config key `videos` at the folder that holds "
            f"your videos (videos={folder.parent}), and leave files out with `exclude` patterns"
        )
    if not folder.is_dir():
        raise InputError(
            f"video folder {folder} does not exist: create it and put your 360-degree videos there, "
            "or point config key `videos` at your folder (snakemake --config videos=/path)"
        )
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        found.setdefault(unicodedata.normalize("NFC", path.stem), []).append(path)
    if not found:
        others = left_out_files(folder)
        shown = "; ".join(f"{name}: {why.split(':')[0]}" for name, why in list(others.items())[:3])
        raise InputError(
            f"no videos in {folder}: expected files ending in {', '.join(VIDEO_SUFFIXES)} (any letter case)"
            + (f"; it holds {len(others)} other file(s) ({shown}{', ...' if len(others) > 3 else ''})" if others else "")
        )
    clashes = {stem: paths for stem, paths in found.items() if len(paths) > 1}
    if clashes:
        shown = "; ".join(" and ".join(p.name for p in paths) for paths in clashes.values())
        raise InputError(
            f"several videos in {folder} share a name without extension ({shown}): every output is "
            "named after it, so rename or move all but one of each"
        )
    return {stem: paths[0] for stem, paths in found.items()}


def exact_rate(fps: float) -> Fraction:
    """The frame rate as a fraction: NTSC rates (29.97 printed for 30000/1001) are recovered."""
    ntsc = round(fps * 1.001)
    if ntsc > 0 and abs(fps - ntsc * 1000 / 1001) < 0.006 and abs(fps - ntsc) > 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def _header(path: Path) -> str:
    """The stderr of ``ffmpeg -i path`` (it exits 1 because no output is given)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    return proc.stderr


def _scan_packets(path: Path) -> tuple[int, list[str]]:
    """Count the first video stream's packets and collect error messages on the way.

    One ``framecrc`` line per packet rather than ``-progress``'s ``frame=`` count, which
    ffmpeg 7.0 leaves out when streams are copied (it made every video look empty).
    """
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-v", "error", "-i", str(path),
         "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "pipe:1"],
        capture_output=True, text=True, errors="replace",
    )  # fmt: skip
    frames = sum(1 for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#"))
    errors = [_ADDRESS.sub("", line).strip() for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0 and not errors:
        errors = [f"ffmpeg exited with code {proc.returncode}"]
    return frames, errors


def colour_facts(video_line: str) -> tuple[str | None, str | None, int]:
    """(transfer, primaries, bit depth) from ffmpeg's video stream summary."""
    match = _PIXEL_FORMAT.search(video_line.split(",", 1)[1] if "," in video_line else video_line)
    if match is None:
        return None, None, 8
    depth = re.search(r"p(\d{2})", match[1])
    transfer = primaries = None
    for part in (match[2] or "").split(","):
        part = part.strip()
        if "/" in part:  # colorspace/primaries/transfer
            _space, primaries, transfer = (part.split("/") + [None, None])[:3]
        elif part.startswith(("bt", "smpte", "arib")):
            transfer = primaries = part  # one name: all three are the same
    return transfer, primaries, int(depth[1]) if depth else 8


def _first_frame(path: Path, options: list[str]) -> tuple[bool, str]:
    """Whether ffmpeg decodes the first video frame of ``path`` through a filter, and its last message."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *options, "-i", str(path), "-map", "0:v:0",
         "-frames:v", "1", "-vf", "scale=32:16", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
        capture_output=True,
    )  # fmt: skip
    lines = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip() and not _METADATA_MESSAGE.search(ln)]
    return len(proc.stdout) >= 32 * 16, (_ADDRESS.sub("", lines[0]).strip() if lines else f"ffmpeg exited with code {proc.returncode}")


def decode_check(path: Path, codec: str) -> tuple[dict, list[str]]:
    """(input options, notes) with which ffmpeg decodes ``path``'s frames. Raises InputError when
    it decodes none: then ffmpeg's own decode fails, and the message says what ffmpeg said."""
    ok, message = _first_frame(path, [])
    if ok:
        return {}, []
    units = _SEI_UNITS.get(codec)
    if units is not None and _first_frame(path, ["-bsf:v", f"filter_units=remove_types={units}"])[0]:
        return {"bsf:v": f"filter_units=remove_types={units}"}, [
            f"ffmpeg's filters refuse the frames as decoded ({message}): its stereo SEI repeats the container's "
            "stereo metadata; the SEI units are dropped before decoding"
        ]
    raise InputError(
        f"video {path} does not decode: ffmpeg reads its packets but decodes no frame ({message}): the video "
        "stream is damaged or in a codec this ffmpeg lacks; re-encode it (e.g. to H.264) or remove it from the folder"
    )


def probe_video(path: str | Path, *, sheet: dict | None = None) -> VideoInfo:
    """Read stream facts, the spherical metadata and the 360-degree layout, and check that every
    video packet is present.

    sheet: the video's sample-sheet entry (projection, stereo, eye, yaw_offset), which overrides
    what the file says. Raises InputError naming the file when it cannot be opened, has no video
    stream, is truncated/corrupt (ffmpeg reports errors while reading its packets), or has a
    layout that cannot be converted.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"video {path} does not exist")
    header = _header(path)
    if "Input #0" not in header:
        reason = next((ln.strip() for ln in reversed(header.splitlines()) if ln.strip()), "unknown error")
        raise InputError(
            f"cannot read video {path}: ffmpeg says {reason!r}; the file is not a video ffmpeg can open, "
            "or it is truncated (e.g. an unfinished download or copy): replace it or remove it from the folder"
        )
    video_line = audio = None
    for line in header.splitlines():
        match = _STREAM.match(line)
        if match is None:
            continue
        if match[1] == "Video" and "attached pic" not in line and video_line is None:
            video_line = match[2]
        elif match[1] == "Audio":
            audio = match[2]
    if video_line is None:
        raise InputError(f"{path} has no video stream (only audio or data): it cannot be processed; remove it")
    size = _SIZE.search(video_line)
    rate = _FPS.search(video_line) or _TBR.search(video_line)
    if size is None or rate is None:
        raise InputError(f"cannot read the frame size or frame rate of {path} from ffmpeg's summary: {video_line!r}")
    width, height = int(size[1]), int(size[2])
    fps = float(rate[1]) * (1000 if rate[2] else 1)
    rotation = _ROTATION.search(header[header.find(video_line):])
    if rotation is not None and round(abs(float(rotation[1]))) % 180 == 90:
        width, height = height, width  # ffmpeg auto-rotates on decode, so frames come out turned
    duration_match = _DURATION.search(header)
    duration = (
        int(duration_match[1]) * 3600 + int(duration_match[2]) * 60 + float(duration_match[3])
        if duration_match
        else 0.0
    )
    frame_count, messages = _scan_packets(path)
    notes = [f"ffmpeg's reader: {m}" for m in messages if _METADATA_MESSAGE.search(m)]
    errors = [m for m in messages if not _METADATA_MESSAGE.search(m)]
    for note in notes:
        log.info("%s: %s (metadata it does not know, not damage; the boxes are read here)", path.name, note)
    if errors:
        shown = "; ".join(errors[:3])
        raise InputError(
            f"video {path} is truncated or corrupt (ffmpeg: {shown}): re-download or re-encode it, "
            "or remove it from the folder"
        )
    if frame_count == 0:
        raise InputError(f"video {path} has a video stream without any frames: replace or remove it")
    codec = video_line.split()[0].rstrip(",")
    options, decode_notes = decode_check(path, codec)
    for note in decode_notes:
        log.info("%s: %s", path.name, note)
    side_data = [f"{m[1]}: {m[2].strip()}" for ln in header.splitlines() if (m := _SIDE_DATA.match(ln))]
    metadata = read_spherical_metadata(path)
    if metadata.version is None and side_data:
        metadata = metadata_from_side_data(side_data)  # e.g. Matroska's projection elements
    transfer, primaries, depth = colour_facts(video_line)
    layout = decide_layout(
        str(path), width, height, duration or frame_count / fps, metadata,
        transfer=transfer, primaries=primaries, bit_depth=depth, sheet=sheet, input_options=options,
    )  # fmt: skip
    return VideoInfo(
        path=str(path),
        width=width,
        height=height,
        fps=fps,
        rate=str(exact_rate(fps)),
        frame_count=frame_count,
        duration=duration or frame_count / fps,
        has_audio=audio is not None,
        codec=codec,
        spherical=layout.to_dict(),
        metadata=metadata.to_dict(),
        side_data=side_data,
        input_options=options or None,
        notes=notes + decode_notes or None,
    )


def view_stream(video: str | Path, info: VideoInfo, *, size: tuple[int, int] | None = None, both_eyes: bool = False):
    """An ffmpeg-python stream of ``video`` decoded as the mono equirectangular view of
    ``info.layout`` (scaled to ``size`` (w, h) with ``area`` scaling when given).

    both_eyes: for a stereo source, each eye converted the same way and put back side by side or
    one above the other as in the source (each eye ``size``). Returns (stream, (width, height)).
    """
    from dataclasses import replace

    import ffmpeg

    layout = info.layout
    eye_w, eye_h = size or layout.view_size()
    source = ffmpeg.input(str(video), **input_options(info))

    def one_eye(stream, eye: str):
        for name, options in replace(layout, eye=eye).filters():
            stream = stream.filter(name, **options)
        if size is not None:
            stream = stream.filter("scale", size[0], size[1], flags="area")
        return stream

    if not both_eyes or layout.stereo == "mono":
        return one_eye(source, layout.eye), (eye_w, eye_h)
    split = source.split()
    left, right = one_eye(split[0], "left"), one_eye(split[1], "right")
    if layout.stereo == "top-bottom":
        return ffmpeg.filter([left, right], "vstack"), (eye_w, 2 * eye_h)
    return ffmpeg.filter([left, right], "hstack"), (2 * eye_w, eye_h)
