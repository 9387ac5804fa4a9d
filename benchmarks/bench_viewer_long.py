"""The viewer stage of a long video: peak memory, page size and the size of its video at 1, 3 and
10 minutes of video, made by looping the test clip (testRoom1, 12 s, scaled to 640x320).

Each length runs ``sstsal viewer`` in a fresh process (``--maps`` the video's ``saliency/``
folder, one synthetic 8-bit map per sampled frame at the workflow's 8 frames a second, and a
director.csv of one row per frame) and reads its peak resident memory and that of its ffmpeg
children (``getrusage``: the largest single process). The page's own size and its video's are read
from disk. The ratios of one run are what to compare: memory flat in the video's length is a ratio
near 1 between the lengths.

    python benchmarks/bench_viewer_long.py [--minutes 1 3 10] [--width 512] [--preset veryfast]

Then one minute more at the viewer's defaults (width 1024, preset medium: ``--no-defaults`` leaves
it out), for the size of its video per second at the defaults, which says how long a video still
goes inside the page (``viewer.embed_mb``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

SAMPLE_FPS = 8  # the workflow's default sampling (frames.fps)

# Run in a fresh interpreter: the command, then its own and its children's peak RSS (KiB on Linux).
MEASURE = """
import resource, subprocess, sys, json
run = subprocess.run(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": run.returncode, "peak_kib": peak}))
"""


def looped(source: Path, out: Path, seconds: float) -> Path:
    from sstsal.media.video import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds}",
                    "-c", "copy", str(out)], check=True)  # fmt: skip
    return out


def write_inputs(folder: Path, video: Path) -> None:
    """saliency/ (a moving blob per sampled frame) and director.csv (one row per frame) for ``video``."""
    import cv2

    from sstsal.media.video import probe_video

    info = probe_video(video)
    step = round(info.fps / SAMPLE_FPS)
    maps = folder / "saliency"
    maps.mkdir(parents=True)
    yy, xx = np.mgrid[0:240, 0:320]
    for frame in range(0, info.frame_count, step):
        x = (frame * 0.5) % 320
        blob = np.exp(-((((xx - x + 160) % 320) - 160) ** 2 + (yy - 120) ** 2) / (2 * 20.0**2))
        cv2.imwrite(str(maps / f"{video.stem}_{frame:04d}.png"), (blob / blob.max() * 255).astype(np.uint8))
    with open(folder / "director.csv", "w") as handle:
        handle.write("time_s,yaw_deg,pitch_deg,fov_deg,cut\n")
        for frame in range(info.frame_count):
            handle.write(f"{frame / info.fps:.4f},{((frame * 0.5) % 320 + 0.5) / 320 * 360 - 180:.2f},0.00,90.00,0\n")


def measure(command: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr[-2000:]}")
    return result["peak_kib"] * 1024 / 1e6, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 3, 10])
    parser.add_argument("--width", type=int, default=512, help="viewer.width (default 512)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--embed-mb", type=float, default=50.0, help="viewer.embed_mb (default 50)")
    parser.add_argument("--no-defaults", action="store_true", help="leave out the minute at the defaults")
    args = parser.parse_args()

    from videoclips import shared_dir

    from sstsal.media.video import ffmpeg_exe

    scratch = Path(tempfile.mkdtemp(prefix="sstsal-bench-viewer-"))
    try:
        small = scratch / "room.mp4"  # 640x320: decoding 4K for minutes would measure the decoder, not the viewer
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(shared_dir() / "videos" / "testRoom1_1920Mono.mp4"), "-vf", "scale=640:320",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", str(small)], check=True)  # fmt: skip
        rows = []
        runs = [(m, args.width, args.preset) for m in args.minutes] + ([] if args.no_defaults else [(1, 1024, "medium")])
        for minutes, width, preset in runs:
            folder = scratch / f"room{minutes:g}"
            video = looped(small, scratch / f"room{minutes:g}.mp4", minutes * 60)
            write_inputs(folder, video)
            command = [sys.executable, "-m", "sstsal", "viewer", str(video), "--maps", str(folder / "saliency"),
                       "--path", str(folder / "director.csv"), "--out", str(folder / "viewer.html"),
                       "--encode-width", str(width), "--preset", preset,
                       "--embed-mb", str(args.embed_mb)]  # fmt: skip
            peak_mb, seconds = measure(command)
            page = (folder / "viewer.html").stat().st_size
            encode = (folder / "viewer.mp4").stat().st_size
            rows.append((minutes, width, preset, peak_mb, seconds, page, encode))
            print(f"{minutes:g} min at {width} {preset}: peak RSS {peak_mb:.0f} MB, {seconds:.0f} s, viewer.html {page / 1e6:.3f} MB, "
                  f"viewer.mp4 {encode / 1e6:.1f} MB ({encode / minutes / 60 / 1e3:.0f} KB per second of video)",
                  flush=True)  # fmt: skip
            shutil.rmtree(folder)
        first = rows[0]
        print(f"\nsstsal viewer, --embed-mb {args.embed_mb:g}")
        print("| video | --encode-width, --preset | peak RSS | vs the first | viewer.html | viewer.mp4 | time |")
        print("|---|---|---|---|---|---|---|")
        for minutes, width, preset, peak_mb, seconds, page, encode in rows:
            print(f"| {minutes:g} min | {width}, {preset} | {peak_mb:.0f} MB | {peak_mb / first[3]:.2f} | "
                  f"{page / 1e6:.3f} MB | {encode / 1e6:.1f} MB | {seconds:.0f} s |")  # fmt: skip
        if not args.no_defaults:
            per_second = rows[-1][-1] / 60
            print(f"at the defaults: {per_second / 1e3:.0f} KB of viewer.mp4 per second of video; viewer.embed_mb "
                  f"({args.embed_mb:g} MB) holds {args.embed_mb * 1e6 / per_second / 60:.0f} minutes of it")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
