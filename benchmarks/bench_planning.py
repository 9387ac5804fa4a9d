"""What Snakemake's planning costs before the first job of a large library: the wall time, CPU
time and peak memory of a dry run (`snakemake -n`) under the SLURM profile for libraries of
``--videos`` videos (default 1,000 and 10,000), with the job groups on and off, and of one batch
of the largest library run in ``--batches`` batches (`--batch all=1/N`, docs/cluster.md).

The videos are hard links to one generated one-second clip: planning reads the folder and
never opens a video (the probe is a job), so their content does not matter and they take no
disk. Every run starts a fresh `snakemake` process, as a real start does.

    python benchmarks/bench_planning.py [--videos 1000 10000] [--batches 10]

Timings vary with the machine's load: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from videoclips import make_clip  # noqa: E402

JOBS_PER_VIDEO = 12  # the default outputs with flow (docs/cluster.md, A thousand videos)


def library(root: Path, videos: int) -> Path:
    """``root``/videos with ``videos`` hard links to one clip, and a config of DIS flow."""
    clip = make_clip(root / "clip.mp4", width=128, height=64, fps=8, seconds=1)
    folder = root / "videos"
    folder.mkdir()
    for i in range(videos):
        os.link(clip, folder / f"v{i:05d}.mp4")
    return root


def dry_run(workdir: Path, *args: str) -> dict[str, float]:
    """One `snakemake -n` in a process of its own: wall and CPU seconds, peak MB, planned jobs."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(workdir), "-n", "--quiet", "rules", "--workflow-profile", str(REPO / "profiles" / "slurm"),
           "--config", "videos=videos", "flow={method: dis}", *args]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed:\n{text[-3000:]}")
    total = re.findall(r"^total\s+(\d+)$", text, flags=re.M)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "mb": usage.ru_maxrss / 1024, "jobs": int(total[-1]) if total else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--groups", choices=["both", "on", "off"], default="both", help="job groups of the whole-library runs")
    args = parser.parse_args()

    rows = []
    root = Path(tempfile.mkdtemp(prefix="sstsal-planning-"))
    try:
        for count in sorted(args.videos):
            workdir = library(root / str(count), count)
            for groups in {"both": (True, False), "on": (True,), "off": (False,)}[args.groups]:
                result = dry_run(workdir, f"job_groups={groups}")
                assert result["jobs"] == JOBS_PER_VIDEO * count + 1, result
                rows.append((count, f"groups {'on' if groups else 'off'}", result))
                print(f"{count} videos, groups {'on' if groups else 'off'}: {result['wall']:.1f} s, "
                      f"{result['cpu']:.1f} s CPU, {result['mb']:.0f} MB", flush=True)  # fmt: skip
        largest = max(args.videos)
        batch = dry_run(root / str(largest), "job_groups=True", "--batch", f"all=1/{args.batches}")
        rows.append((largest, f"batch 1/{args.batches}, groups on", batch))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{'videos':>7}  {'run':<24} {'jobs':>7} {'wall s':>8} {'CPU s':>7} {'peak MB':>8} {'ms/video':>9}")
    for count, what, r in rows:
        per_video = 1000 * r["wall"] / count
        print(f"{count:>7}  {what:<24} {r['jobs']:>7} {r['wall']:>8.1f} {r['cpu']:>7.1f} {r['mb']:>8.0f} {per_video:>9.2f}")
    small, large = min(args.videos), max(args.videos)
    on = {count: r for count, what, r in rows if what == "groups on"}
    off = {count: r for count, what, r in rows if what == "groups off"}
    if large > small and large in on and small in on:
        print(f"\n{large} / {small} videos, groups on: {on[large]['wall'] / on[small]['wall']:.1f} x the time, "
              f"{on[large]['mb'] / on[small]['mb']:.2f} x the memory ({large // small} x the videos)")  # fmt: skip
    for count in set(on) & set(off):
        print(f"{count} videos: groups on / off: {on[count]['wall'] / off[count]['wall']:.2f} x the time")
    print(f"{largest} videos: one batch of {args.batches} / the whole library: {batch['wall'] / on[largest]['wall']:.2f} x the time, "
          f"{batch['mb'] / on[largest]['mb']:.2f} x the memory; planned jobs {batch['jobs']} of {on[largest]['jobs']}")  # fmt: skip


if __name__ == "__main__":
    main()
