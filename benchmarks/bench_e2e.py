"""The whole workflow on a folder of videos, timed per stage and end to end.

Runs the real thing (the snakemake CLI, this project's Snakefile and default profile, a
config written for the run) in a fresh working folder, then prints one row per stage from
``logs/benchmarks/<rule>/`` (wall seconds summed over videos and chunks, share of the run,
sampled frames per second of that stage), the GPUs' busy share (mean of nvidia-smi's
utilization.gpu, sampled every 0.5 s during the run) where there is a GPU, and last:

    end-to-end: X sampled frames/s (N frames, T s, flow <method> at <width>, <device>)

X counts the sampled frames that got a saliency map, divided by the whole run's wall time
(snakemake's start-up included). Stages of different videos overlap, so the shares can sum
past 100 %.

    python benchmarks/bench_e2e.py --videos ../shared/videos                  # CPU: DIS flow
    python benchmarks/bench_e2e.py --videos DIR --device cuda --flow-width 1024 \\
        --raft-checkpoint ../shared/fixtures/raft-golden/raft-random-init.pth
    python benchmarks/bench_e2e.py --videos DIR -- --resources gpu=2      # extra snakemake args
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# Order of the table: the stages in the order a video goes through them.
STAGE_ORDER = (
    "probe", "extract_frames", "extract_flow_frames", "chunk_plan", "flow", "flow_chunk", "gather_flow",
    "validate", "inference", "inference_chunk", "gather_saliency", "render", "summary",
)  # fmt: skip


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Arguments after -- go to snakemake unchanged."
    )
    parser.add_argument("--videos", required=True, help="folder of 360-degree equirectangular videos")
    parser.add_argument("--device", default="auto", help="model.device: auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument(
        "--flow-method", default="auto", choices=["auto", "raft", "dis", "farneback"],
        help="flow.method (auto: raft on CUDA, dis otherwise)",
    )  # fmt: skip
    parser.add_argument("--flow-width", type=int, default=None, help="flow.width (default: the config's, 2048)")
    parser.add_argument("--flow-precision", choices=["fp32", "bf16", "fp16"], default=None, help="flow.precision")
    parser.add_argument("--raft-checkpoint", default=None, help="flow.raft_checkpoint (a .pth file)")
    parser.add_argument("--cores", default="all", help="snakemake --cores (default: all)")
    parser.add_argument(
        "--workdir", default=None,
        help="working folder of the run, kept afterwards; must not hold results yet (default: a temporary one, removed)",
    )  # fmt: skip
    parser.add_argument(
        "--time-limit", type=float, default=None,
        help="stop the workflow after this many seconds and print what finished (default: no limit)",
    )  # fmt: skip
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    return parser.parse_args(argv), extra


# --------------------------------------------------------------------------------------------
# GPUs, read through nvidia-smi so that this process never holds a CUDA context


def gpu_names() -> list[str]:
    """Names of the GPUs nvidia-smi lists ([] without nvidia-smi or a driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


class GpuSampler:
    """nvidia-smi's utilization.gpu of every GPU, every 0.5 s, while the run lasts."""

    def __init__(self) -> None:
        self.samples: dict[int, list[float]] = defaultdict(list)
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits", "-lms", "500"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and parts[0].isdigit():
                try:
                    self.samples[int(parts[0])].append(float(parts[1]))
                except ValueError:
                    pass  # "[N/A]" on some boards

    def stop(self) -> dict[int, float]:
        """Mean busy percent per GPU index."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
        return {index: sum(values) / len(values) for index, values in sorted(self.samples.items()) if values}


# --------------------------------------------------------------------------------------------
# The run and its records


def write_config(workdir: Path, args: argparse.Namespace) -> Path:
    flow: dict = {"method": args.flow_method}
    if args.flow_width is not None:
        flow["width"] = args.flow_width
    if args.flow_precision is not None:
        flow["precision"] = args.flow_precision
    if args.raft_checkpoint is not None:
        flow["raft_checkpoint"] = str(Path(args.raft_checkpoint).resolve())
    config = {"videos": str(Path(args.videos).resolve()), "flow": flow, "model": {"device": args.device}}
    path = workdir / "bench_e2e_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def stage_times(workdir: Path) -> dict[str, tuple[float, float, int]]:
    """{rule: (wall s, CPU s, jobs)} summed over the rule's benchmark files."""
    totals: dict[str, list[float]] = {}
    root = workdir / "logs" / "benchmarks"
    for tsv in sorted(root.glob("*/**/*.tsv")):
        rule = tsv.relative_to(root).parts[0]
        with open(tsv, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]  # a rerun appends; the last row is this run's
        entry = totals.setdefault(rule, [0.0, 0.0, 0])
        entry[0] += float(row["s"])
        try:
            entry[1] += float(row.get("cpu_time") or 0)
        except ValueError:
            pass
        entry[2] += 1
    return {rule: (v[0], v[1], int(v[2])) for rule, v in totals.items()}


def sampled_frames(workdir: Path) -> dict[str, int]:
    """{video: frames with a saliency map}, read from each video's saliency.npz."""
    from sstsal.media.saliency_stack import open_stack

    counts = {}
    for path in sorted((workdir / "results").glob("*/saliency.npz")):
        with open_stack(path) as stack:
            counts[path.parent.name] = len(stack)
    return counts


def flow_widths(workdir: Path, asked: int | None) -> str:
    """The flow working width(s) used: the asked width, never more than a video's own width."""
    from sstsal.flow.engines import flow_working_size
    from sstsal.media.video import VideoInfo

    widths = set()
    for info_path in sorted((workdir / "results").glob("*/video.json")):
        info = VideoInfo.from_json(info_path)
        widths.add(flow_working_size(info.width, info.height, asked)[0])
    if not widths:
        return str(asked or "?")
    return "/".join(str(w) for w in sorted(widths))


def default_flow_width() -> int | None:
    """flow.width of the project's config/config.yaml (what a run without --flow-width uses)."""
    with open(REPO / "config" / "config.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["flow"]["width"]


def resolved_device(device: str, gpus: list[str]) -> str:
    if device == "auto":
        return "cuda" if gpus else "cpu"
    return device


def device_label(device: str, gpus: list[str]) -> str:
    if not device.startswith("cuda"):
        return "cpu"
    index = int(device.split(":")[1]) if ":" in device else 0
    names = sorted(set(gpus))
    if len(gpus) > 1 and ":" not in device:
        return f"cuda, {len(gpus)}x {' + '.join(names)}"
    return f"cuda, {gpus[index] if index < len(gpus) else 'GPU ' + str(index)}"


def print_report(
    stages: dict[str, tuple[float, float, int]],
    frames: dict[str, int],
    run_seconds: float,
    busy: dict[int, float],
    gpus: list[str],
    last_line: str,
) -> None:
    total_frames = sum(frames.values())
    print(f"{'stage':<20} {'jobs':>4} {'wall s':>9} {'share':>7} {'frames/s':>9} {'cpu s':>9}")
    order = [r for r in STAGE_ORDER if r in stages] + sorted(r for r in stages if r not in STAGE_ORDER)
    for rule in order:
        wall, cpu, jobs = stages[rule]
        rate = f"{total_frames / wall:9.1f}" if wall > 0 and total_frames else f"{'-':>9}"
        share = 100 * wall / run_seconds if run_seconds > 0 else 0.0
        print(f"{rule:<20} {jobs:>4} {wall:9.1f} {share:6.1f}% {rate} {cpu:9.1f}")
    print(f"{'whole run':<20} {'':>4} {run_seconds:9.1f} {100.0:6.1f}%")
    print("(wall s summed over videos; frames/s = sampled frames with a map / the stage's wall s)")
    for index, percent in busy.items():
        name = gpus[index] if index < len(gpus) else "GPU"
        print(f"GPU {index} ({name}) busy: {percent:.0f}% of the run (mean nvidia-smi utilization.gpu)")
    print(last_line)


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    videos = Path(args.videos)
    if not videos.is_dir():
        fail(f"--videos {videos} is not a folder: give the folder holding the videos")
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bench_e2e_")) if temporary else Path(args.workdir).resolve()
    if (workdir / "results").exists() or (workdir / "logs").exists():
        fail(f"--workdir {workdir} already holds results/ or logs/ of a run (finished jobs would be skipped): "
             "give a new or empty folder")  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    gpus = gpu_names()
    device = resolved_device(args.device, gpus)
    if device.startswith("cuda") and not gpus:
        fail(f"--device {args.device} asked for CUDA but nvidia-smi lists no GPU here: use --device cpu")
    method = args.flow_method if args.flow_method != "auto" else ("raft" if device.startswith("cuda") else "dis")
    config = write_config(workdir, args)
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(config), "--cores", str(args.cores), *extra,
    ]  # fmt: skip
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    print("run:", " ".join(command), flush=True)
    sampler = GpuSampler() if device.startswith("cuda") and gpus else None
    if sampler is not None:
        sampler.start()
    started = time.perf_counter()
    log_path = workdir / "bench_e2e_snakemake.log"
    timed_out = False
    with open(log_path, "w", encoding="utf-8") as log:
        # its own session, so that stopping it at the time limit reaches its jobs too
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = process.wait(timeout=args.time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGTERM)  # snakemake cancels its running jobs
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                code = process.wait()
    run_seconds = time.perf_counter() - started
    busy = sampler.stop() if sampler is not None else {}
    try:
        if timed_out:
            frames = sampled_frames(workdir)
            print_report(stage_times(workdir), frames, run_seconds, busy, gpus,
                         f"end-to-end: not finished within the time limit of {args.time_limit:.0f} s "
                         f"({sum(frames.values())} frames had maps by then)")  # fmt: skip
            return 3
        if code != 0:
            print(log_path.read_text(encoding="utf-8", errors="replace")[-4000:], file=sys.stderr)
            for job_log in sorted((workdir / "logs").glob("*/*.log")):
                text = job_log.read_text(encoding="utf-8", errors="replace")
                if "error" in text.lower() or "Traceback" in text:
                    print(f"== {job_log}\n{text[-2000:]}", file=sys.stderr)
            fail(f"the workflow failed (exit {code}); its log is above")
        frames = sampled_frames(workdir)
        if not frames:
            fail(f"the run made no saliency maps: are there videos in {videos}?")
        total = sum(frames.values())
        width = flow_widths(workdir, args.flow_width if args.flow_width is not None else default_flow_width())
        last = (
            f"end-to-end: {total / run_seconds:.2f} sampled frames/s ({total} frames, {run_seconds:.1f} s, "
            f"flow {method} at {width}, {device_label(device, gpus)})"
        )
        print(f"{len(frames)} video(s): " + ", ".join(f"{v} {n} frames" for v, n in frames.items()))
        print_report(stage_times(workdir), frames, run_seconds, busy, gpus, last)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
