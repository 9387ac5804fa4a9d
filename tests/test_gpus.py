"""Every GPU of a box: the lock-file pool, the job glue that pins a job to its GPU, and the
workflow's GPU job limit, all with simulated GPUs (SSTSAL_SIMULATED_GPUS) on a CPU machine."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sstsal.pipeline.gpus import claim_gpu, job_gpu
from sstsal.pipeline.job import job_log

REPO = Path(__file__).resolve().parents[1]

# A job that holds a GPU of the pool until told to stop, reporting the GPU it got.
HOLDER = """
import os, sys, time
from pathlib import Path
from sstsal.pipeline.gpus import claim_gpu
pool, count, report, release = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
with claim_gpu(count, pool_dir=pool, label=report.name, poll_seconds=0.05):
    report.write_text(os.environ["CUDA_VISIBLE_DEVICES"])
    while not release.exists():
        time.sleep(0.05)
"""


def start_holder(pool: Path, count: int, report: Path, release: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(pool), str(count), str(report), str(release)], env=env)


def wait_for(path: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {seconds} s")
        time.sleep(0.05)
    return path.read_text()


def test_concurrent_jobs_get_different_gpus(tmp_path):
    pool, release = tmp_path / "pool", tmp_path / "release"
    holders = [start_holder(pool, 2, tmp_path / f"job{i}", release) for i in range(2)]
    try:
        got = sorted(wait_for(tmp_path / f"job{i}") for i in range(2))
        assert got == ["0", "1"]
    finally:
        release.touch()
        for holder in holders:
            assert holder.wait(timeout=60) == 0


def test_a_killed_job_frees_its_gpu(tmp_path):
    pool, release = tmp_path / "pool", tmp_path / "release"
    first = start_holder(pool, 1, tmp_path / "first", release)
    second = None
    try:
        assert wait_for(tmp_path / "first") == "0"
        second = start_holder(pool, 1, tmp_path / "second", release)
        time.sleep(1.0)
        assert not (tmp_path / "second").exists(), "a second job got the only GPU while the first held it"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert wait_for(tmp_path / "second") == "0"
    finally:
        release.touch()
        first.kill()
        if second is not None:
            assert second.wait(timeout=60) == 0


def test_slots_spread_over_gpus_before_sharing(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    pool = tmp_path / "pool"
    with claim_gpu(2, jobs_per_gpu=2, pool_dir=pool) as a, claim_gpu(2, jobs_per_gpu=2, pool_dir=pool) as b:
        with claim_gpu(2, jobs_per_gpu=2, pool_dir=pool) as c:
            assert (a.index, b.index, c.index) == (0, 1, 0)
            assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        # the slot is free again once its holder leaves
        with open(pool / "slot2.lock") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_a_users_visible_devices_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    pool = tmp_path / "pool"
    with claim_gpu(2, pool_dir=pool) as a, claim_gpu(2, pool_dir=pool) as b:
        assert (a.visible_id, b.visible_id) == ("5", "7")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"


def test_job_log_names_the_gpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSTSAL_SIMULATED_GPUS", "2")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    seen = []
    with job_log(tmp_path / "flow.log", gpu=1, device="cuda", gpus={"count": 2, "jobs_per_gpu": 1}):
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
        with job_log(tmp_path / "inference.log", gpu=1, device="auto", gpus={"count": 2, "jobs_per_gpu": 1}):
            seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == ["0", "1"]
    assert "GPU 0 of 2 (simulated GPU; CUDA_VISIBLE_DEVICES=0" in (tmp_path / "flow.log").read_text()
    assert "GPU 1 of 2 (simulated GPU; CUDA_VISIBLE_DEVICES=1" in (tmp_path / "inference.log").read_text()
    assert (tmp_path / ".snakemake" / "gpu-pool" / "slot0.lock").is_file()


def test_job_takes_the_pool_size_the_scheduler_resolved(tmp_path, monkeypatch):
    """gpus.count unset: the job's pool has the GPU count the workflow resolved (handed over in
    the environment, not written into the config), not the fallback of one GPU."""
    from sstsal.pipeline.gpus import POOL_COUNT_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSTSAL_SIMULATED_GPUS", "3")
    monkeypatch.setenv(POOL_COUNT_ENV, "3")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with job_gpu(1, "cuda", {"count": 0, "jobs_per_gpu": 1}) as a, job_gpu(1, "cuda", {"count": 0, "jobs_per_gpu": 1}) as b:
        assert (a.count, b.count) == (3, 3)
        assert {a.visible_id, b.visible_id} == {"0", "1"}


@pytest.mark.parametrize(
    ("gpu", "device", "slurm"), [(0, "cuda", None), (1, "cuda:1", None), (1, "cuda", "123")]
)  # fmt: skip
def test_no_claim_without_gpu_pinned_device_or_slurm(tmp_path, monkeypatch, gpu, device, slurm):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSTSAL_SIMULATED_GPUS", "2")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if slurm:
        monkeypatch.setenv("SLURM_JOB_ID", slurm)
    else:
        monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with job_gpu(gpu, device, {"count": 2}) as claim:
        assert claim is None
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert not (tmp_path / ".snakemake" / "gpu-pool").exists()


def dry_run(workdir: Path, *extra: str) -> str:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "videos").mkdir(exist_ok=True)
    from videoclips import make_clip

    if not (workdir / "videos" / "clip.mp4").exists():
        make_clip(workdir / "videos" / "clip.mp4", width=256, height=128, fps=8, seconds=1)
    (workdir / "config" / "config.yaml").write_text("videos: videos\nmodel:\n  device: cuda\n")
    import snakemake_run

    env = snakemake_run.environment(SSTSAL_SIMULATED_GPUS="3", PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = snakemake_run.snakemake(workdir, "-n", *extra, cores=4, env=env)
    return out.stdout + out.stderr


@pytest.mark.slow
def test_workflow_runs_one_gpu_job_per_gpu_unless_told(tmp_path):
    assert "GPU jobs at once: 3 (3 GPU(s) x 1 job(s) each)" in dry_run(tmp_path)
    assert "GPU jobs at once: 2 (2 GPU(s) x 1 job(s) each)" in dry_run(tmp_path, "--config", "gpus={count: 2}")
    assert "GPU jobs at once: 4 (2 GPU(s) x 2 job(s) each)" in dry_run(
        tmp_path, "--config", "gpus={count: 2, jobs_per_gpu: 2}"
    )
    assert "GPU jobs at once: 1 (--resources gpu), on 3 GPU(s)" in dry_run(tmp_path, "--resources", "gpu=1")
