"""Memory and disk of the workflow as a video grows: the same real clip looped to 1, 3 and 10 minutes.

For each length, a fresh working folder runs the whole workflow (this project's Snakefile and
default profile, ``flow.method: dis``, ``model.device: cpu``, the published flow checkpoint the
default config uses) on the test clip of ``tests/testdata.py`` scaled to ``--size`` and looped
to that length. Then it prints, from the jobs' own ``benchmark:`` files
(``logs/benchmarks/<rule>/...tsv``, ``max_rss``), one row per stage: peak RSS at each length,
the growth from the shortest to the longest, and whether that growth is within 15 % or 150 MB
(whichever is larger) of the shortest run's peak; then each stage's wall time; then the disk
use of every kept and temporary output, per hour of video (from the longest run, which keeps
its temporary outputs with ``--notemp`` so that they can be measured).

    python benchmarks/bench_long.py                          # 1, 3 and 10 minutes, 640x320
    python benchmarks/bench_long.py --minutes 0.5 1 --size 320x160 --workdir /tmp/long
    python benchmarks/bench_long.py --sample-fps 2 --viewer   # exact sampling at 2 fps; with the viewer page
    python benchmarks/bench_long.py -- --config piece_seconds=60           # extra snakemake args

Each run takes about as long as the video's length times the workflow's speed on this machine:
on a 2-core laptop CPU, inference of 7.5 sampled frames per second of video dominates.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

STAGE_ORDER = (
    "probe", "extract_frames", "extract_flow_frames", "chunk_plan", "flow", "flow_chunk", "gather_flow",
    "validate", "inference", "inference_chunk", "gather_saliency", "render", "summary", "director_path",
    "director", "viewer",
)  # fmt: skip
VIDEO = "long"
MB = 1e6


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Arguments after -- go to snakemake.")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 3, 10], help="video lengths (default: 1 3 10)")
    parser.add_argument("--size", default="640x320", help="the looped clip's WIDTHxHEIGHT (default: 640x320)")
    parser.add_argument("--clip", default=None, help="the clip to loop (default: the test clip of tests/testdata.py)")
    parser.add_argument("--cores", default="2", help="snakemake --cores (default: 2)")
    parser.add_argument("--viewer", action="store_true",
                        help="also make the viewer page (viewer.enabled); left out by default: it has its own "
                             "long-video benchmark, benchmarks/bench_viewer_long.py where present")
    parser.add_argument("--sample-fps", type=float, default=None,
                        help="sample this many frames per second (extract.sampling exact); default: the published sampling")
    parser.add_argument("--workdir", default=None, help="folder for the runs, kept (default: a temporary one, removed)")
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        extra, argv = argv[argv.index("--") + 1 :], argv[: argv.index("--")]
    return parser.parse_args(argv), extra


def test_clip() -> Path:
    from testdata import data_root

    clip = data_root() / "videos" / "testRoom1_1920Mono.mp4"
    if not clip.is_file():
        fail(f"the test clip {clip} is missing: see docs/contributing.md for the test data")
    return clip


def looped_clip(clip: Path, out: Path, seconds: float, size: str) -> Path:
    """``clip`` scaled to ``size`` and looped to ``seconds`` (H.264, the clip's frame rate and audio)."""
    from sstsal.media.video import ffmpeg_exe

    width, height = size.lower().split("x")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(clip),
           "-t", f"{seconds:.3f}", "-map", "0:v:0", "-map", "0:a?", "-vf", f"scale={width}:{height}:flags=area",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-movflags", "+faststart", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def run_workflow(
    workdir: Path, videos: Path, cores: str, extra: list[str], *, notemp: bool, sample_fps: float | None, viewer: bool
) -> float:
    """The workflow in ``workdir`` on ``videos``; returns its wall seconds (fails with the log's tail)."""
    config = {"videos": str(videos), "flow": {"method": "dis"}, "model": {"device": "cpu"}, "viewer": {"enabled": viewer}}
    if sample_fps is not None:
        config["extract"] = {"sampling": "exact", "fps": sample_fps}
    configfile = workdir / "bench_long_config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", cores, *(["--notemp"] if notemp else []), *extra]  # fmt: skip
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log_path = workdir / "bench_long_snakemake.log"
    print("run:", " ".join(command), flush=True)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    seconds = time.perf_counter() - started
    if code != 0:
        print(log_path.read_text(encoding="utf-8", errors="replace")[-4000:], file=sys.stderr)
        fail(f"the workflow failed (exit {code}) in {workdir}; its log is above")
    return seconds


def _number(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or 0)
    except ValueError:  # "NA" for jobs too short to sample
        return 0.0


def stage_records(workdir: Path) -> dict[str, tuple[float, float, float, int]]:
    """{rule: (peak max_rss MB over its jobs, wall s summed, CPU s summed, jobs)} from the benchmark files."""
    totals: dict[str, list[float]] = {}
    root = workdir / "logs" / "benchmarks"
    for tsv in sorted(root.glob("*/**/*.tsv")):
        with open(tsv, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]  # a rerun appends; the last row is this run's
        entry = totals.setdefault(tsv.relative_to(root).parts[0], [0.0, 0.0, 0.0, 0])
        entry[0] = max(entry[0], _number(row, "max_rss"))
        entry[1] += _number(row, "s")
        entry[2] += _number(row, "cpu_time")
        entry[3] += 1
    return {rule: (v[0], v[1], v[2], int(v[3])) for rule, v in totals.items()}


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def disk_use(results: Path) -> dict[str, int]:
    """{output: bytes} of one video's results folder (folders counted as a whole)."""
    return {p.name + ("/" if p.is_dir() else ""): tree_bytes(p) for p in sorted(results.iterdir())}


# outputs the workflow deletes when they are no longer needed (temp() or gathered pieces)
TEMPORARY = {"flow_frames/": "deleted after the flow stage (extract.keep_flow_frames: false)"}


def within(short: float, long: float) -> bool:
    return long - short <= max(0.15 * short, 150.0)


def print_report(runs: dict[float, dict], longest: float, settings: str) -> None:
    lengths = sorted(runs)
    longest = longest if longest in runs else lengths[-1]
    stages = {rule for run in runs.values() for rule in run["stages"]}
    order = [r for r in STAGE_ORDER if r in stages] + sorted(stages - set(STAGE_ORDER))
    heads = " | ".join(f"{m:g} min" for m in lengths)
    print(f"\nPeak RSS per stage (MB, max_rss of the job's benchmark file; {settings})\n")
    print(f"| stage | {heads} | growth {lengths[0]:g} -> {lengths[-1]:g} min | within 15 % or 150 MB |")
    print("|---|" + "---|" * len(lengths) + "---|---|")
    for rule in order:
        peaks = [runs[m]["stages"].get(rule, (float("nan"),))[0] for m in lengths]
        growth = peaks[-1] - peaks[0]
        ok = "yes" if within(peaks[0], peaks[-1]) else "NO"
        print(f"| {rule} | " + " | ".join(f"{p:.0f}" for p in peaks) + f" | {growth:+.0f} MB | {ok} |")
    print("\nWall seconds per stage (CPU seconds in brackets; summed over a stage's jobs)\n")
    print(f"| stage | {heads} |")
    print("|---|" + "---|" * len(lengths))
    for rule in order:
        cells = []
        for m in lengths:
            record = runs[m]["stages"].get(rule)
            cells.append(f"{record[1]:.0f} ({record[2]:.0f})" if record else "-")
        print(f"| {rule} | " + " | ".join(cells) + " |")
    print("| whole run | " + " | ".join(f"{runs[m]['seconds']:.0f}" for m in lengths) + " |")
    print("\nSampled frames with a map: " + ", ".join(f"{m:g} min {runs[m]['frames']}" for m in lengths))
    disk = runs[longest]["disk"]
    shortest = runs[lengths[0]]["disk"]
    per_hour = 60.0 / longest
    print(f"\nDisk use per hour of video (the {longest:g}-minute run's files x {per_hour:g}; an output "
          f"no larger than 1.5 x its {lengths[0]:g}-minute size does not grow with the video)\n")
    print(f"| output | {longest:g} min (MB) | per hour (GB) | kept |")
    print("|---|---|---|---|")
    for name, size in disk.items():
        kept = TEMPORARY.get(name, "kept")
        fixed = len(runs) > 1 and name in shortest and size <= 1.5 * shortest[name]
        hourly = "fixed size" if fixed else f"{size * per_hour / 1e9:.2f}"
        print(f"| `{name}` | {size / MB:.1f} | {hourly} | {kept} |")
    pieces = disk.get("saliency/", 0) + disk.get("saliency.npz", 0)
    print(f"| `pieces/saliency/` (while inference runs, a long video) | {pieces / MB:.1f} | {pieces * per_hour / 1e9:.2f} | "
          "deleted when the pieces are gathered (hard links: the PNGs take no second copy) |")  # fmt: skip
    flow = disk.get("flow/", 0)
    print(f"| `pieces/flow/` (while flow runs, a long video) | {flow / MB:.1f} | {flow * per_hour / 1e9:.2f} | "
          "deleted when gathered (hard links) |")


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    clip = Path(args.clip) if args.clip else test_clip()
    temporary = args.workdir is None
    root = Path(tempfile.mkdtemp(prefix="bench_long_")) if temporary else Path(args.workdir).resolve()
    lengths = sorted(args.minutes)
    runs: dict[float, dict] = {}
    settings = f"{clip.name} at {args.size} looped, flow dis, model cpu, --cores {args.cores}"
    settings += f", sampling exact {args.sample_fps:g} fps" if args.sample_fps else ", published sampling"
    settings += "" if args.viewer else ", viewer.enabled false"
    if extra:
        settings += ", snakemake " + " ".join(extra)
    try:
        # the longest first: the run that matters most is measured even if a later one is cut short
        for minutes in [lengths[-1], *lengths[:-1]]:
            workdir = root / f"{minutes:g}min"
            if (workdir / "results").exists():
                fail(f"{workdir} already holds results of a run: give a new --workdir")
            videos = workdir / "videos"
            looped_clip(clip, videos / f"{VIDEO}.mp4", minutes * 60, args.size)
            seconds = run_workflow(workdir, videos, args.cores, extra, notemp=minutes == lengths[-1],
                                   sample_fps=args.sample_fps, viewer=args.viewer)  # fmt: skip
            from sstsal.media.saliency_stack import open_stack

            with open_stack(workdir / "results" / VIDEO / "saliency.npz") as stack:
                frames = len(stack)
            runs[minutes] = {"stages": stage_records(workdir), "seconds": seconds, "frames": frames,
                             "disk": disk_use(workdir / "results" / VIDEO)}  # fmt: skip
            print(f"{minutes:g} min: {frames} maps, {seconds:.0f} s", flush=True)
            print_report(runs, lengths[-1], settings)
            sys.stdout.flush()
        failed = [r for r in runs[lengths[0]]["stages"] if r in runs[lengths[-1]]["stages"]
                  and not within(runs[lengths[0]]["stages"][r][0], runs[lengths[-1]]["stages"][r][0])]  # fmt: skip
        print(f"\nstages whose peak grew more than 15 % or 150 MB: {', '.join(failed) or 'none'}")
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
