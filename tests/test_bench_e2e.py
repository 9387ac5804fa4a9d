"""benchmarks/bench_e2e.py (its records and report) and benchmarks/device_e2e.sh --cpu, the GPU
machine's one command run on this CPU with DIS flow on a small generated clip."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from videoclips import make_clip

REPO = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_e2e", REPO / "benchmarks" / "bench_e2e.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_tsv(path: Path, seconds: float, cpu: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t100\t100\t100\t100\t0\t0\t50\t{cpu}\n")


def test_stage_times_sum_videos_and_chunks(tmp_path):
    bench = load_bench()
    write_tsv(tmp_path / "logs/benchmarks/flow/a.tsv", 10.0, 8.0)
    write_tsv(tmp_path / "logs/benchmarks/flow/b.tsv", 5.5, 4.0)
    write_tsv(tmp_path / "logs/benchmarks/flow_chunk/c/0-100.tsv", 2.0, 1.0)
    write_tsv(tmp_path / "logs/benchmarks/flow_chunk/c/100-200.tsv", 3.0, 1.5)
    stages = bench.stage_times(tmp_path)
    assert stages == {"flow": (15.5, 12.0, 2), "flow_chunk": (5.0, 2.5, 2)}


@pytest.mark.slow
def test_gpu_busy_share_from_nvidia_smi(tmp_path, monkeypatch):
    """A stand-in nvidia-smi prints two GPUs' utilisation; the sampler averages each."""
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *utilization*) printf "0, 40\\n1, 100\\n0, 60\\n1, [N/A]\\n"; sleep 30;;\n'
        '  *) printf "Fake GPU A\\nFake GPU B\\n";; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    bench = load_bench()
    assert bench.gpu_names() == ["Fake GPU A", "Fake GPU B"]
    sampler = bench.GpuSampler()
    sampler.start()
    import time

    deadline = time.monotonic() + 20
    while sum(len(v) for v in sampler.samples.values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sampler.stop() == {0: 50.0, 1: 100.0}
    assert bench.device_label("cuda", ["Fake GPU A", "Fake GPU B"]) == "cuda, 2x Fake GPU A + Fake GPU B"
    assert bench.device_label("cuda:1", ["Fake GPU A", "Fake GPU B"]) == "cuda, Fake GPU B"


def test_refuses_a_workdir_with_results(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "work" / "results").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_e2e.py"), "--videos", str(tmp_path / "videos"),
         "--workdir", str(tmp_path / "work"), "--device", "cpu"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: --workdir") and "already holds results/" in result.stderr


@pytest.mark.slow
def test_device_e2e_on_cpu(tmp_path, shared):
    """The GPU machine's command with its CUDA parts skipped: both clips, one table each."""
    clip = make_clip(tmp_path / "clip.mp4", width=256, height=128, fps=24, seconds=1.5)
    env = dict(
        os.environ, E2E_CLIP=str(clip), LONG_SECONDS="3", E2E_WIDTHS="128", PYTHON=sys.executable,
        SSTSAL_MODELS=str(shared / "models"), PYTHONPATH=os.environ.get("PYTHONPATH", ""),
    )  # fmt: skip
    env.pop("OUT", None)
    result = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "device_e2e.sh"), "--cpu"], capture_output=True, text=True, env=env
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "nvidia-smi" not in out and "RAFT weights" not in out  # the CUDA parts were skipped
    assert re.search(r"^python 3\.\d+.*torch .*snakemake 9", out, re.M)
    assert re.search(r"^ffmpeg version ", out, re.M)
    lines = re.findall(r"^(short|long) clip, flow dis at 128: (end-to-end: .*)$", out, re.M)
    assert [name for name, _ in lines] == ["short", "long"], out[-3000:]
    counts = []
    for _name, last in lines:
        match = re.fullmatch(
            r"end-to-end: ([\d.]+) sampled frames/s \((\d+) frames, ([\d.]+) s, flow dis at 128, cpu\)", last
        )
        assert match, last
        rate, frames, seconds = float(match[1]), int(match[2]), float(match[3])
        assert rate == pytest.approx(frames / seconds, rel=0.01, abs=0.01)
        counts.append(frames)
    # 1.5 s at 24 fps sampled every 3rd frame: 12 maps; the 3 s loop of it about 24 (a stream
    # copy cut at -t 3 ends at a packet boundary, a frame or two either way)
    assert counts[0] == 12 and 23 <= counts[1] <= 26, counts
    for stage in ("extract_frames", "flow", "inference", "render"):
        assert len(re.findall(rf"^{stage}\s+1\s+[\d.]+\s+[\d.]+%", out, re.M)) == 2, stage
