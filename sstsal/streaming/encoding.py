"""Saliency-driven encoding: quality moved to the tiles people look at, next to a uniform encode of the same size.

The source is decoded once, as the equirectangular view the maps describe (at ``width``), one
segment of tiles.csv at a time. Each segment is encoded on its own, twice, with the bundled
ffmpeg and a CPU encoder (libx264 or libx265):

- ``uniform``: the whole frame alike, at ``bitrate_kbps`` (two-pass) or at ``crf``;
- ``roi``: ffmpeg's ``addroi`` gives every tile of the segment a quantiser offset (negative: finer)
  from tiles.csv. ``steer: viewport`` (default): ``strength * (1 - 2 * viewport_p)``, so a tile
  every viewport overlaps gets ``-strength``, one no viewport reaches ``+strength``: quality
  follows what a viewer sees. ``steer: share``: from the saliency density (share / area),
  ``-strength / 2 * log2(density)`` clipped to +-``strength``, so a tile with 4 times the mean
  density gets ``-strength``: quality follows the salient spot itself, narrower than a viewport.
  Two-pass at the bitrate the uniform segment took, searched until the ROI
  segments so far are within ``size_tolerance`` of the uniform ones in bytes (each segment within
  5 %), so the two files match to that.

A segment is a closed GOP that starts with an IDR frame (one encode per segment, keyint = the
segment's frames, no scene-cut keyframes): a DASH/HLS packager cuts there. The segments are joined
without re-encoding, the source audio added, and the spherical metadata of a mono equirectangular
video written. The key frames of both files are checked against the segment starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sstsal.errors import InputError, SstsalError
from sstsal.media.render import mux_audio
from sstsal.media.spherical_metadata import inject_spherical_metadata
from sstsal.media.video import VideoInfo, ffmpeg_exe, probe_video, view_stream
from sstsal.streaming.segments import Segment
from sstsal.streaming.tiles import Tile, TileLayout, read_tiles

log = logging.getLogger(__name__)

# Bump when a change alters the encoded files (triggers reruns through workflow params).
OUTPUT_VERSION = 1

ENCODERS = ("libx264", "libx265")
VARIANTS = ("uniform", "roi")
STEERING = ("viewport", "share")
# addroi's qoffset is a fraction of the encoder's QP range (51 at 8 bits in libx264 and libx265)
QP_RANGE = 51
_PTS_TIME = re.compile(r"pts_time:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class EncodeSettings:
    """How the two encodes are made (config section ``encode``)."""

    encoder: str = "libx264"
    preset: str = "medium"
    bitrate_kbps: float | None = None  # the uniform encode's target; None: crf
    crf: float = 23.0
    strength: float = 6.0  # largest quantiser offset, QP
    steer: str = "viewport"  # viewport: by viewport_p; share: by the saliency density share / area
    width: int | None = None  # encode width (height: width / 2); None: the source's view
    layout: str | None = None  # tiles.csv's layout to steer by (None: its first equirectangular one)
    size_tolerance: float = 0.01  # the ROI video's size within this fraction of the uniform one's
    max_tries: int = 6

    def __post_init__(self) -> None:
        checks = [
            (self.encoder in ENCODERS, f"encoder must be one of {', '.join(ENCODERS)}"),
            (self.bitrate_kbps is None or self.bitrate_kbps > 0, "bitrate_kbps must be positive (or null for crf)"),
            (0 <= self.crf <= 51, "crf must be between 0 and 51"),
            (0 <= self.strength <= 25, "strength must be between 0 and 25 QP"),
            (self.steer in STEERING, f"steer must be one of {', '.join(STEERING)}"),
            (self.width is None or (self.width >= 64 and self.width % 4 == 0), "width must be a multiple of 4, at least 64"),
            (0 < self.size_tolerance < 0.2, "size_tolerance must be between 0 and 0.2"),
            (1 <= self.max_tries <= 20, "max_tries must be between 1 and 20"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(f"encode settings: {message} (got {asdict(self)})")
        if self.layout is not None:
            TileLayout.parse(self.layout)


def qp_offsets(scores: dict[str, tuple[float, float]], tiles: list[Tile], strength: float, steer: str = "viewport") -> dict[str, float]:
    """{tile name: quantiser offset in QP} of one segment (negative: finer) from its tiles' (share,
    viewport_p): by the viewport probability, or by the saliency density share / area."""
    offsets = {}
    for tile in tiles:
        share, viewport = scores.get(tile.name, (0.0, 0.0))
        if steer == "viewport":
            offset = strength * (1.0 - 2.0 * viewport)
        else:
            offset = -strength / 2 * math.log2(max(share, 1e-9) / tile.area)
        offsets[tile.name] = round(min(strength, max(-strength, offset)), 2) + 0.0  # no -0.0
    return offsets


def roi_filters(offsets: dict[str, float], layout: TileLayout, size: tuple[int, int]) -> list[str]:
    """``addroi`` filters (pixel rectangles of an equirect frame of ``size`` (w, h)) for the tiles' offsets."""
    width, height = size
    filters = []
    for tile in layout.tiles():
        offset = offsets.get(tile.name, 0.0)
        if abs(offset) < 0.25:
            continue
        x0, x1 = round(tile.col * width / layout.cols), round((tile.col + 1) * width / layout.cols)
        y0, y1 = round(tile.row * height / layout.rows), round((tile.row + 1) * height / layout.rows)
        filters.append(f"addroi=x={x0}:y={y0}:w={x1 - x0}:h={y1 - y0}:qoffset={offset / QP_RANGE:.4f}")
    return filters


def encode_size(info: VideoInfo, width: int | None) -> tuple[int, int]:
    """(w, h) of the encode: the source's equirectangular view, or ``width`` x ``width / 2``."""
    if width is None:
        w, h = info.layout.view_size()
        return w // 2 * 2, h // 2 * 2
    return width, width // 2 // 2 * 2


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise SstsalError(f"{what} failed (ffmpeg exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    if "skipping ROI" in proc.stderr:  # the encoder ignored the regions: the two encodes would be alike
        raise SstsalError(f"{what}: the encoder ignored the regions of interest ({proc.stderr.strip()[-300:]})")
    return proc.stderr


def encode_segment(
    raw: Path,
    out: Path,
    *,
    size: tuple[int, int],
    rate: str,
    frames: int,
    settings: EncodeSettings,
    bitrate_kbps: float | None,
    filters: list[str],
    workdir: Path,
    threads: int = 0,
) -> int:
    """Encode one segment's raw yuv420p frames into ``out`` (MP4, one closed GOP starting with an
    IDR frame): two-pass at ``bitrate_kbps``, or ``settings.crf`` when None. Returns its size in bytes."""
    source = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{size[0]}x{size[1]}", "-framerate", rate, "-i", str(raw)]
    head = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "warning", "-y", *source]
    vf = ["-vf", ",".join(filters)] if filters else []
    common = ["-c:v", settings.encoder, "-preset", settings.preset, "-pix_fmt", "yuv420p", "-threads", str(threads),
              "-g", str(frames), "-keyint_min", str(frames)]  # fmt: skip
    stats = workdir / "pass"
    # adaptive quantisation carries the regions of interest: on in both encodes whatever the preset
    # (ultrafast turns it off, and the encoders then skip the regions)
    if settings.encoder == "libx264":
        gop = ["-sc_threshold", "0", "-aq-mode", "variance", "-x264-params", "open-gop=0"]
        passes = [["-pass", "1", "-passlogfile", str(stats)], ["-pass", "2", "-passlogfile", str(stats)]]
    else:
        x265 = f"keyint={frames}:min-keyint={frames}:scenecut=0:open-gop=0:aq-mode=2:log-level=error"
        gop = ["-tag:v", "hvc1"]
        passes = [["-x265-params", f"{x265}:pass=1:stats={stats}.log"], ["-x265-params", f"{x265}:pass=2:stats={stats}.log"]]
        if bitrate_kbps is None:
            passes = [["-x265-params", x265]]
    tail = ["-an", "-f", "mp4", str(out)]
    if bitrate_kbps is None:
        rc = ["-crf", f"{settings.crf:g}"]
        _run([*head, *vf, *common, *gop, *rc, *(passes[0] if settings.encoder == "libx265" else []), *tail], f"encoding {out.name}")
    else:
        rc = ["-b:v", f"{bitrate_kbps:.3f}k"]
        _run([*head, *vf, *common, *gop, *rc, *passes[0], "-an", "-f", "null", os.devnull], f"first pass of {out.name}")
        _run([*head, *vf, *common, *gop, *rc, *passes[1], *tail], f"second pass of {out.name}")
    return out.stat().st_size


def keyframe_times(path: str | Path) -> list[float]:
    """Presentation times (s) of the key frames of the first video stream, from the decoder itself
    (``-skip_frame nokey`` + ``showinfo``: ffprobe is not bundled)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-skip_frame", "nokey", "-i", str(path), "-map", "0:v:0",
         "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace",
    )  # fmt: skip
    if proc.returncode != 0:
        raise SstsalError(f"cannot read the key frames of {path}: {proc.stderr.strip()[-300:]}")
    return [float(m[1]) for line in proc.stderr.splitlines() if "Parsed_showinfo" in line and (m := _PTS_TIME.search(line))]


def check_keyframes(path: str | Path, segments: list[Segment]) -> list[float]:
    """The key-frame times of ``path``; raises unless one sits on every segment start (within half a frame)."""
    times = keyframe_times(path)
    missing = [s.start_s for s in segments if not any(abs(t - s.start_s) < 0.5 / s.fps for t in times)]
    if missing:
        raise SstsalError(f"{path}: no key frame at the segment start(s) {missing[:5]} s (key frames at {times[:8]})")
    return times


def _segments_of(times: list[dict], info: VideoInfo) -> list[Segment]:
    segments = [Segment(k, round(t["start_s"] * info.fps), round(t["end_s"] * info.fps), info.fps) for k, t in enumerate(times)]
    if not segments or segments[0].start_frame != 0 or segments[-1].stop_frame != info.frame_count or any(
        a.stop_frame != b.start_frame for a, b in zip(segments, segments[1:])
    ):
        raise InputError(f"the segments of tiles.csv do not cover this video's {info.frame_count} frames at "
                         f"{info.fps:g} fps: make tiles.csv from this video's maps (sstsal tiles)")  # fmt: skip
    return segments


def check_replaceable(out: Path) -> None:
    """Refuse an output folder that holds anything but an earlier encode's files (before any work)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose another output folder")
    ours = {f"{v}.mp4" for v in VARIANTS} | {"encode.json"}
    foreign = [p.name for p in out.iterdir() if p.name not in ours]
    if foreign:
        raise InputError(f"refusing to replace {out}: it holds {', '.join(sorted(foreign)[:5])}; choose a new or empty folder")


def check_encoder(encoder: str) -> None:
    """Raise unless the bundled ffmpeg has ``encoder`` (and the ``addroi`` filter)."""
    encoders = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    filters = subprocess.run([ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    if not re.search(rf"^\s*V\S*\s+{encoder}\s", encoders, re.M):
        raise InputError(f"the ffmpeg at {ffmpeg_exe()} has no {encoder} encoder: install imageio-ffmpeg's bundled build, "
                         "or choose another encode.encoder")  # fmt: skip
    if not re.search(r"^\s*\S+\s+addroi\s", filters, re.M):
        raise InputError(f"the ffmpeg at {ffmpeg_exe()} has no addroi filter (ffmpeg 4.4 or newer needed)")


def _replace_folder(tmp: Path, out: Path) -> None:
    """``tmp`` becomes ``out`` (an earlier encode there is replaced)."""
    check_replaceable(out)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def encode_video(
    video: str | Path,
    tiles_csv: str | Path,
    out_dir: str | Path,
    *,
    settings: EncodeSettings = EncodeSettings(),
    info: VideoInfo | None = None,
    threads: int = 0,
) -> dict:
    """``out_dir/uniform.mp4``, ``out_dir/roi.mp4`` and ``out_dir/encode.json`` (settings, per segment
    the quantiser offsets, bytes and bitrate of both, the key frames); the folder appears when complete.
    Returns the record written to encode.json."""
    video, out_dir = Path(video), Path(out_dir)
    info = info or probe_video(video)
    layout, shares, times = read_tiles(tiles_csv, settings.layout)
    if layout.kind != "equirect":
        raise InputError(f"encode steers by an equirectangular tile grid, not {layout.name}: give --layout equirect:RxC")
    segments = _segments_of(times, info)
    size = encode_size(info, settings.width)
    tiles = layout.tiles()
    check_replaceable(out_dir)
    check_encoder(settings.encoder)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700: give the final folder the usual mode
    try:
        record = _encode_all(video, info, segments, shares, tiles, layout, size, settings, tmp, threads)
        (tmp / "encode.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        _replace_folder(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return record


def _encode_all(video, info, segments, shares, tiles, layout, size, settings, folder: Path, threads: int) -> dict:
    work = folder / "work"
    work.mkdir()
    frame_bytes = size[0] * size[1] * 3 // 2
    stream, _ = view_stream(video, info, size=size)
    decoder = (
        stream.output("pipe:", format="rawvideo", pix_fmt="yuv420p", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True)
    )
    rows, parts = [], {v: [] for v in VARIANTS}
    try:
        for segment in segments:
            raw = work / "segment.yuv"
            with open(raw, "wb") as handle:
                count = 0
                while count < segment.frames:
                    buffer = decoder.stdout.read(frame_bytes)
                    if len(buffer) < frame_bytes:
                        break
                    handle.write(buffer)
                    count += 1
            if count == 0:
                raise SstsalError(f"{video.name}: the decoder gave no frame for segment {segment.index} "
                                  f"({segment.start_s:.2f} s): the file is shorter than its header says")  # fmt: skip
            rows.append(_encode_one(raw, segment, count, shares.get(segment.index, {}), tiles, layout, size,
                                    info, settings, work, parts, threads, rows))  # fmt: skip
    finally:
        decoder.stdout.close()
        decoder.wait()
    files = {}
    for variant in VARIANTS:
        files[variant] = _join(parts[variant], video, info, folder / f"{variant}.mp4", settings, work)
    shutil.rmtree(work)
    keyframes = {variant: check_keyframes(files[variant], segments) for variant in VARIANTS}
    sizes = {variant: sum(r[f"{variant}_bytes"] for r in rows) for variant in VARIANTS}
    duration = segments[-1].end_s
    record = {
        "settings": asdict(settings),
        "layout": layout.name,
        "size": list(size),
        "segments": rows,
        "video_bytes": sizes,
        "video_kbps": {v: round(b * 8 / 1000 / duration, 3) for v, b in sizes.items()},
        "size_ratio": round(sizes["roi"] / sizes["uniform"], 5),
        "file_bytes": {v: files[v].stat().st_size for v in VARIANTS},
        "keyframes_s": keyframes,
    }
    log.info("%s: uniform %d bytes, roi %d bytes (ratio %.4f), %d segments", video.name, sizes["uniform"],
             sizes["roi"], record["size_ratio"], len(segments))  # fmt: skip
    return record


def _encode_one(raw, segment, frames, shares, tiles, layout, size, info, settings, work, parts, threads, done) -> dict:
    duration = frames / info.fps
    kwargs = dict(size=size, rate=info.rate, frames=frames, settings=settings, workdir=work, threads=threads)
    uniform = work / f"uniform_{segment.index:05d}.mp4"
    uniform_bytes = encode_segment(raw, uniform, bitrate_kbps=settings.bitrate_kbps, filters=[], **kwargs)
    target = uniform_bytes * 8 / 1000 / duration
    offsets = qp_offsets(shares, tiles, settings.strength, settings.steer) if shares else {}
    filters = roi_filters(offsets, layout, size)
    roi = work / f"roi_{segment.index:05d}.mp4"
    # what the ROI segments so far fell short of (or went over) the uniform ones: made up here, so the
    # files match within the tolerance even where one short segment cannot
    debt = sum(r["uniform_bytes"] - r["roi_bytes"] for r in done)
    goal = max(0.5 * uniform_bytes, uniform_bytes + debt)
    total_uniform = sum(r["uniform_bytes"] for r in done) + uniform_bytes
    total_roi = sum(r["roi_bytes"] for r in done)
    kbps, best, tries, tried = goal * 8 / 1000 / duration, None, 0, []
    for tries in range(1, settings.max_tries + 1):
        candidate = work / f"roi_try{tries}.mp4"
        got = encode_segment(raw, candidate, bitrate_kbps=kbps, filters=filters, **kwargs)
        if best is None or abs(got - goal) < abs(best[1] - goal):
            if best is not None:
                best[0].unlink()
            best = (candidate, got, kbps)
        else:
            candidate.unlink()
        if abs((total_roi + got) / total_uniform - 1) <= settings.size_tolerance and abs(got / uniform_bytes - 1) <= 0.05:
            break
        tried.append((kbps, got))
        below = [t for t in tried if t[1] < goal]
        above = [t for t in tried if t[1] > goal]
        if below and above:  # bracketed: interpolate between the closest tries on either side
            (k0, b0), (k1, b1) = max(below, key=lambda t: t[1]), min(above, key=lambda t: t[1])
            kbps = k0 + (k1 - k0) * (goal - b0) / (b1 - b0)
        else:
            kbps *= goal / got
    os.replace(best[0], roi)
    if abs((total_roi + best[1]) / total_uniform - 1) > settings.size_tolerance:
        log.warning("segment %d: the ROI encode so far is %.1f %% off the uniform one's size after %d tries",
                    segment.index, 100 * ((total_roi + best[1]) / total_uniform - 1), tries)  # fmt: skip
    parts["uniform"].append(uniform)
    parts["roi"].append(roi)
    return {
        "segment": segment.index, "start_s": round(segment.start_s, 4), "end_s": round(segment.end_s, 4),
        "frames": frames, "uniform_bytes": uniform_bytes, "roi_bytes": best[1],
        "uniform_kbps": round(target, 3), "roi_kbps": round(best[2], 3), "tries": tries,
        "qp_offsets": offsets,
    }  # fmt: skip


def _join(parts: list[Path], video: Path, info: VideoInfo, out: Path, settings: EncodeSettings, work: Path) -> Path:
    """The segments as one MP4 (stream copy), with the source audio and spherical metadata."""
    listing = work / f"{out.stem}.txt"
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts), encoding="utf-8")
    joined = work / f"{out.stem}.joined.mp4"
    tag = ["-tag:v", "hvc1"] if settings.encoder == "libx265" else []
    _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
          "-map", "0:v:0", "-c:v", "copy", *tag, "-movflags", "+faststart", "-f", "mp4", str(joined)],
         f"joining the segments of {out.name}")  # fmt: skip
    if info.has_audio:
        with_audio = work / f"{out.stem}.audio.mp4"
        mux_audio(joined, video, with_audio)
        joined = with_audio
    inject_spherical_metadata(joined, out, projection="equirectangular", stereo="mono")
    return out

