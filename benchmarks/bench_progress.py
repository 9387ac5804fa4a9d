"""What the progress bars in the job logs cost: each long stage updates a tqdm bar once per frame
and writes it to the log at most every 2 s (``mininterval``).

Two measures, in one run:
1. the cost of one ``bar.update()`` writing to a file, against an empty loop;
2. a real stage, frame extraction of a generated clip (the stage with the cheapest frames, so
   the bar's share is largest), with and without its bar, alternating, best of ``--repeats``.

    python benchmarks/bench_progress.py [--seconds 8] [--repeats 5]

Timings vary with the machine's load: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def update_cost(n: int, log: Path) -> float:
    """Seconds per ``bar.update()`` beyond an empty loop, the bar writing to ``log``."""
    with open(log, "w") as handle:
        start = time.perf_counter()
        for _ in range(n):
            pass
        empty = time.perf_counter() - start
        bar = tqdm(total=n, unit="frame", file=handle, mininterval=2.0)
        start = time.perf_counter()
        for _ in range(n):
            bar.update()
        with_bar = time.perf_counter() - start
        bar.close()
    return (with_bar - empty) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the generated 512x256 clip")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from videoclips import make_clip

    from sstsal.media.frames import extract_frames
    from sstsal.media.video import probe_video

    scratch = Path(tempfile.mkdtemp(prefix="sstsal-bench-progress-"))
    try:
        per_update = update_cost(200_000, scratch / "bar.log")
        clip = make_clip(scratch / "clip.mp4", width=512, height=256, fps=24, seconds=args.seconds)
        info = probe_video(clip)
        times: dict[bool, list[float]] = {True: [], False: []}
        frames = 0
        for _ in range(args.repeats):
            for progress in (False, True):
                out = scratch / f"frames-{progress}"
                shutil.rmtree(out, ignore_errors=True)
                with open(scratch / "stage.log", "w") as log:
                    stderr, sys.stderr = sys.stderr, log  # where a job's bar goes: its log
                    try:
                        start = time.perf_counter()
                        frames = len(extract_frames(clip, out, info=info, progress=progress))
                        times[progress].append(time.perf_counter() - start)
                    finally:
                        sys.stderr = stderr
        off, on = min(times[False]), min(times[True])
        print(f"one bar.update() writing to a file: {per_update * 1e6:.2f} us")
        print(f"frame extraction, {frames} frames of a {args.seconds:g} s 512x256 clip (best of {args.repeats}): "
              f"{off * 1e3 / frames:.2f} ms per frame without the bar, {on * 1e3 / frames:.2f} ms with it")
        print(f"with / without the bar: {on / off:.3f}; the bar's share of a frame: {per_update / (off / frames):.2e}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
