"""A new user's first runs, through the real CLI and workflow: checks before any job, models
remembered from a folder, config typos, Ctrl-C and resume, the CPU flow default, install noise."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import snakemake_run
import yaml
from snakemake_run import REPO
from videoclips import make_clip, shared_dir

SETTINGS = {"flow": {"width": 256}, "model": {"device": "cpu"}, "render": {"width": 256, "preset": "ultrafast"},
            "summary": {"frames": 4}}  # fmt: skip


# Integration tests (workflow runs on a fresh machine, a package build): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


def isolated_env(cache: Path, *, models: Path | None = None) -> dict:
    """A model cache of its own (``cache``) and SSTSAL_MODELS only when given: what a fresh machine has.

    Nothing is downloaded: the GitHub files' base (SSTSAL_UPSTREAM) is a folder that does not exist,
    so a run that finds its checkpoints proves they came from ``models`` or ``cache``.
    """
    nowhere = cache.parent / "no-upstream"
    assert not nowhere.exists()
    return snakemake_run.environment(models=models, SSTSAL_CACHE=str(cache), TORCH_HOME=str(cache / "torch"),
                                     SSTSAL_UPSTREAM=nowhere.as_uri())  # fmt: skip


def workdir_with_clip(root: Path, seconds: float = 1.5) -> Path:
    """``root`` with data/videos/clip.mp4 (24 fps: 12 sampled frames) and the repository's config."""
    make_clip(root / "data" / "videos" / "clip.mp4", width=256, height=128, fps=24, seconds=seconds)
    (root / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", root / "config" / "config.yaml")
    return root


def snakemake_cmd(workdir: Path, *config: str) -> list[str]:
    settings = [f"{key}={json.dumps(value)}" for key, value in SETTINGS.items()]
    return snakemake_run.command(workdir, "--config", *settings, *config)


def run(cmd: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return snakemake_run.run(cmd, cwd=cwd, env=env, check=False)


def test_missing_checkpoints_stop_before_any_job(tmp_path):
    workdir = workdir_with_clip(tmp_path / "w")
    out = run(snakemake_cmd(workdir), isolated_env(tmp_path / "cache"), workdir)
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr[-3000:]
    assert "SST_Sal.pth" in errors[0] and str(tmp_path / "cache" / "models" / "SST_Sal.pth") in errors[0]
    assert "sstsal download --from DIR" in errors[0]
    assert "Traceback" not in out.stderr
    assert not (workdir / "results").exists() and not (workdir / "logs" / "probe").exists()

    # RAFT asked for, no RAFT weights here (nor downloadable offline): named with the DIS alternative
    models = shared_dir() / "models"
    offline = dict(isolated_env(tmp_path / "cache", models=models), https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    out = run(snakemake_cmd(workdir, "flow={method: raft, width: 256}"), offline, workdir)
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "raft-sintel.pth" in errors[0] and "flow.method: dis" in errors[0], out.stderr[-3000:]
    assert not (workdir / "results").exists()


def test_download_from_folder_is_remembered(tmp_path):
    cache = tmp_path / "cache"
    source = tmp_path / "models"
    shutil.copytree(shared_dir() / "models", source)
    cmd = [sys.executable, "-m", "sstsal", "download", "--from", str(source)]
    out = run(cmd, isolated_env(cache), tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("SST_Sal.pth", "SST_Sal_wo_OF.pth"):
        assert (cache / "models" / name).read_bytes() == (source / name).read_bytes()
        assert f"{name}: {cache / 'models' / name}" in out.stdout
    # later look-ups find them in the cache without SSTSAL_MODELS and without the network
    out = run([sys.executable, "-m", "sstsal", "download"], isolated_env(cache), tmp_path)
    assert out.returncode == 0 and str(cache / "models" / "SST_Sal.pth") in out.stdout, out.stderr
    # a corrupt copy is refused and nothing is copied
    (source / "SST_Sal_wo_OF.pth").write_bytes(b"not a checkpoint")
    out = run(cmd, isolated_env(tmp_path / "cache2"), tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error:") and "SST_Sal_wo_OF.pth" in out.stderr
    assert not (tmp_path / "cache2" / "models").exists()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (["vidoes=/my/videos"], "error: unknown config key 'vidoes': did you mean 'videos'?"),
        (["flow={methd: dis}"], "error: unknown config key 'flow.methd': did you mean 'flow.method'?"),
        (["method=dis"], "error: unknown config key 'method': did you mean 'flow.method' ('flow={method: ...}')?"),
        (["flow={method: dsi}"], "error: config flow.method: 'dsi' is not one of raft, dis, farneback, none, auto"),
    ],
)
def test_config_mistakes_in_one_line(tmp_path, config, expected):
    workdir = workdir_with_clip(tmp_path / "w", seconds=0.5)
    out = run(snakemake_cmd(workdir, *config) + ["--dry-run"], isolated_env(tmp_path / "cache"), workdir)
    assert out.returncode != 0
    ours = [line for line in out.stderr.splitlines() if not line.startswith(("Using workflow", "Config file"))]
    assert ours == [expected], out.stderr


def test_dotted_config_key_is_refused_by_snakemake_itself(tmp_path):
    """`--config flow.method=dis` never reaches the workflow (Snakemake's own parser refuses it); the
    README gives the right form. Kept as a test so a Snakemake that starts accepting it is noticed."""
    workdir = workdir_with_clip(tmp_path / "w", seconds=0.5)
    out = run(snakemake_cmd(workdir, "flow.method=dis") + ["--dry-run"], isolated_env(tmp_path / "cache"), workdir)
    assert out.returncode != 0 and "Config entry must start with a valid identifier" in out.stdout + out.stderr
    assert "'flow={method: dis}'" in (REPO / "README.md").read_text()


def test_ctrl_c_says_how_to_resume_and_resume_finishes(tmp_path):
    """Default flow.method (auto -> DIS on this CPU machine), Ctrl-C during the flow, then the same command."""
    workdir = workdir_with_clip(tmp_path / "w")
    env = isolated_env(tmp_path / "cache", models=shared_dir() / "models")
    cmd = snakemake_cmd(workdir)
    process = subprocess.Popen(cmd, cwd=workdir, env=env, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    results = workdir / "results" / "clip"
    deadline = time.monotonic() + 300
    while not any(results.glob(".flow.*.tmp")):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the flow stage did not start"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "interrupted: finished outputs are kept; run the same command again to resume"
    assert "Traceback" not in stderr and "did not complete successfully" not in stderr, stderr[-3000:]
    assert not (results / "flow").exists()

    again = run(cmd, env, workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "flow.method auto: dis (no CUDA device here)" in again.stderr
    # 12 sampled frames: the short-video warning reaches the console and the provenance
    assert "only 12 sampled frames" in again.stderr
    provenance = json.loads((results / "provenance.json").read_text())
    assert provenance["flow"]["method_requested"] == "auto" and provenance["flow"]["method"] == "dis"
    assert any("only 12 sampled frames" in w for w in provenance["warnings"])
    assert len(list((results / "saliency").glob("*.png"))) == 12


def test_slurm_profile_makes_auto_mean_raft(tmp_path):
    """profiles/slurm: flow.method auto is RAFT (the login node's lack of a GPU decides nothing).
    Run with the profile's config file and no RAFT weights: the check before any job asks for them."""
    workdir = workdir_with_clip(tmp_path / "w", seconds=0.5)
    env = isolated_env(tmp_path / "cache", models=shared_dir() / "models")
    env.update(https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")  # offline
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    cmd = snakemake_cmd(workdir) + ["--configfiles", str(REPO / "profiles" / "slurm" / profile["configfiles"])]
    out = run(cmd, env, workdir)
    assert out.returncode != 0 and "flow.method auto chose it" in out.stderr and "RAFT weights" in out.stderr, out.stderr[-3000:]
    # an explicit method is kept
    out = run(cmd[:-2] + ["flow={method: dis, width: 256}"] + cmd[-2:] + ["--dry-run"], env, workdir)
    assert out.returncode == 0, out.stderr[-3000:]


def test_sstsal_alone_prints_help():
    out = subprocess.run([sys.executable, "-m", "sstsal"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("usage: sstsal") and "download" in out.stdout


def test_install_prints_no_deprecation_box(tmp_path):
    """Building the package (what `pip install -e .` does) with the setuptools of this environment."""
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w",
                          str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "deprecated" not in (out.stdout + out.stderr).lower(), (out.stdout + out.stderr)[-3000:]
    # the editable build `make venv` does (`pip install -e .`): no warning box either
    build = f"from setuptools import build_meta; build_meta.build_editable({str(tmp_path / 'editable')!r})"
    (tmp_path / "editable").mkdir()
    out = subprocess.run([sys.executable, "-c", build], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = (out.stdout + out.stderr).lower()
    assert "deprecated" not in text and "please be careful" not in text and "*" * 20 not in text, text[-3000:]
