"""End-to-end tests of the Snakemake workflow, run through its command line on small clips.

One finished run (module fixture) of a 512x256 clip with DIS flow on the CPU is the reference;
the other tests copy it, change one thing, and check what Snakemake reruns and what comes out.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import snakemake_run
import yaml
from snakemake_run import REPO, SNAKEMAKE
from videoclips import make_audio_only, make_clip, shared_dir, truncate

from sstsal.media.saliency_stack import load_stack
from sstsal.media.video import probe_video

VIDEO = "café scene.v1"  # a space, a dot and a non-ASCII letter in the wildcard
SAMPLED = 18  # 36 frames at 12 fps: every round(12 / 8) = 2nd frame


# Integration tests (whole workflow runs): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


def base_config(**changes) -> dict:
    """The CI config of .test/, with ``changes`` ({section: {key: value}}) on top."""
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    config["flow"]["width"] = 512
    config["render"].update(width=256, preset="ultrafast")
    config["summary"] = {"frames": 4}
    config["director"] = {"width": 160, "height": 90, "preset": "ultrafast"}
    config["viewer"] = {"width": 256, "preset": "ultrafast"}
    for section, values in changes.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


def environment() -> dict:
    return snakemake_run.environment()


def snakemake(workdir: Path, *args: str, config: dict | None = None, user: str | None = None,
              check: bool = True) -> subprocess.CompletedProcess:  # fmt: skip
    """Run the repository's workflow in ``workdir`` (its default profile applies)."""
    config_file = workdir / "config.yaml"
    if config is not None:
        config_file.write_text(yaml.safe_dump(config, allow_unicode=True))
    cmd = snakemake_run.command(workdir, *args, configfile=config_file)
    env = environment()
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        env["HOME"] = str(workdir)  # the unprivileged user's caches go to a folder it owns
    return snakemake_run.run(cmd, cwd=workdir, env=env, check=check, timeout=1800)


def planned_jobs(workdir: Path, config: dict | None = None) -> list[tuple[str, str | None]]:
    """(rule, video wildcard) of every job a dry run would run."""
    out = snakemake(workdir, "--dry-run", config=config)
    text = out.stdout + out.stderr
    jobs, rule = [], None
    for line in text.splitlines():
        match = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if match:
            if rule is not None:
                jobs.append((rule, None))
            rule = match[1]
            continue
        match = re.match(r"^wildcards: video=(.+)$", line.strip())
        if match and rule is not None:
            jobs.append((rule, match[1]))
            rule = None
    if rule is not None:
        jobs.append((rule, None))
    return [job for job in jobs if job[0] != "all"]


def outputs(workdir: Path, video: str) -> dict[str, Path]:
    root = workdir / "results" / video
    names = ["video.json", "frames", "frames.json", "flow", "validation.json", "saliency",
             "saliency.npz", "overlay.mp4", "contact_sheet.png", "directions.csv", "director.csv", "director.mp4",
             "viewer.html", "tiles.csv", "tiles.png"]  # fmt: skip
    return {name: root / name for name in names}


def maps_of(workdir: Path, video: str = VIDEO) -> tuple[np.ndarray, list[str]]:
    return load_stack(workdir / "results" / video / "saliency.npz")


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)  # copy2 keeps mtimes: Snakemake sees the same state
    return dst


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("run")
    make_clip(workdir / "data" / "videos" / f"{VIDEO}.mp4", width=512, height=256, fps=12, seconds=3, audio=True)
    snakemake(workdir, config=base_config())
    return workdir


def test_whole_run_then_nothing_to_do(finished):
    for name, path in outputs(finished, VIDEO).items():
        assert path.exists(), name
    for folder in ("frames", "flow", "saliency"):
        assert len(list(outputs(finished, VIDEO)[folder].glob("*.png"))) == SAMPLED, folder
    assert not (finished / "results" / VIDEO / "flow_frames").exists(), "flow_frames/ is temporary by default"
    maps, names = maps_of(finished)
    assert maps.shape == (SAMPLED, 240, 320) and maps.dtype == np.float16
    assert names == [f"{VIDEO}_{i:04d}" for i in range(0, 36, 2)]
    overlay = probe_video(outputs(finished, VIDEO)["overlay.mp4"])
    assert (overlay.width, overlay.height, overlay.frame_count, overlay.fps, overlay.has_audio) == (256, 128, 36, 12, True)
    director = probe_video(outputs(finished, VIDEO)["director.mp4"])
    # 512 source pixels over 360 degrees hold 128 across the 90-degree view: below 640x360 the cut is
    # upscaled, here to director.width x director.height (160x90), never above them
    assert (director.width, director.height, director.frame_count, director.fps, director.has_audio) == (160, 90, 36, 12, True)
    path = outputs(finished, VIDEO)["director.csv"].read_text().splitlines()
    assert path[0] == "time_s,yaw_deg,pitch_deg,fov_deg,cut" and len(path) == 1 + 36
    assert "saliency at the view centre / mean saliency" in (finished / "logs" / "director_path" / f"{VIDEO}.log").read_text()
    assert b"data:video/mp4;base64," in outputs(finished, VIDEO)["viewer.html"].read_bytes()
    for rule in ("probe", "extract_frames", "extract_flow_frames", "flow", "validate", "inference", "render", "summary"):
        assert (finished / "logs" / rule / f"{VIDEO}.log").is_file(), rule
    for rule in ("flow", "inference", "render"):
        assert (finished / "logs" / "benchmarks" / rule / f"{VIDEO}.tsv").is_file(), rule
    assert "dis" in (finished / "logs" / "flow" / f"{VIDEO}.log").read_text()
    assert not list((finished / "results" / VIDEO).glob(".*")), "temporary files left behind"
    assert planned_jobs(finished) == []


def test_report(finished, tmp_path):
    report = tmp_path / "report.html"
    snakemake(finished, "--report", str(report))
    html = report.read_text(errors="replace")
    for text in ("overlay.mp4", "contact_sheet.png", "directions.csv", "Overlay videos", "director.mp4", "viewer_report.html",
                 "Director's cut", "360-degree viewer", "tiles.png", "Streaming",
                 "provenance.json", "Provenance"):  # fmt: skip
        assert text in html, text
    # the report of another folder than the run's: refused, naming what is missing, no report written
    other, elsewhere = tmp_path / "other.html", tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy2(finished / "data" / "videos" / f"{VIDEO}.mp4", elsewhere / "not run.mp4")
    refused = snakemake(finished, "--report", str(other), config=base_config(videos=str(elsewhere)), check=False)
    snakemake(finished, "--dry-run", config=base_config())  # leave the config file as the other tests expect
    assert refused.returncode != 0 and not other.exists()
    assert "no finished run to report" in refused.stderr and "same --config" in refused.stderr, refused.stderr[-2000:]


def test_provenance(finished):
    """results/<video>/provenance.json: versions, checkpoints with sha256, flow and device, settings, stage times."""
    import hashlib
    import json

    data = json.loads((finished / "results" / VIDEO / "provenance.json").read_text())
    software = data["software"]
    for key in ("sstsal", "python", "torch", "torchvision", "snakemake", "opencv", "ffmpeg"):
        assert software[key], key
    assert software["git"]["commit"] == subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                                       text=True).stdout.strip()  # fmt: skip
    shared_sha = hashlib.sha256((shared_dir() / "models" / "SST_Sal.pth").read_bytes()).hexdigest()
    assert data["checkpoints"] == [{"role": "SST-Sal", "path": str(shared_dir() / "models" / "SST_Sal.pth"), "sha256": shared_sha}]
    assert data["flow"]["method"] == "dis" and "DIS" in data["flow"]["engine"] and data["flow"]["weights"] is None
    assert data["inference"]["device"] == "cpu" and data["inference"]["frames"] == SAMPLED
    stages = ("probe", "extract_frames", "extract_flow_frames", "flow", "validate", "inference", "render", "summary",
              "director_path", "director", "viewer", "tiles")  # fmt: skip
    assert sorted(data["stages"]) == sorted(stages)
    for stage in stages:
        times = data["stages"][stage]
        assert times["started"] <= times["finished"] and times["seconds"] >= 0, stage
    assert data["director"]["path_measures"]["centre_ratio"] > 1  # the director's measures, as its log prints them
    assert data["settings"]["render"]["width"] == 256 and data["settings"]["flow"]["width"] == 512
    assert data["config"]["flow"]["method"] == "dis"
    # 18 sampled frames: fewer than the model's 20-frame window
    assert any("fewer than the model's 20-frame window" in w for w in data["warnings"]), data["warnings"]


def test_render_width_reruns_only_render(finished, tmp_path):
    workdir = copy_run(finished, tmp_path / "w")
    config = base_config(render={"width": 128})
    # provenance is the cheap gather of the stage records: it follows every rerun; so does the
    # report's copy of the overlay
    assert sorted(planned_jobs(workdir, config)) == [("provenance", VIDEO), ("render", VIDEO), ("report_overlay", VIDEO)]
    before = maps_of(workdir)[0]
    snakemake(workdir, config=config)
    overlay = probe_video(outputs(workdir, VIDEO)["overlay.mp4"])
    assert (overlay.width, overlay.height) == (128, 64)
    assert np.array_equal(maps_of(workdir)[0], before)
    assert planned_jobs(workdir, config) == []


def test_flow_method_change_reruns_flow_and_after(finished):
    jobs = planned_jobs(finished, base_config(flow={"method": "farneback"}))
    viewing = ["director", "director_path", "viewer", "report_overlay", "report_director", "tiles"]  # (tiles: for streaming)
    # the frames at the flow width were temporary: extracted again for the new flow
    assert sorted(rule for rule, _ in jobs) == sorted(["extract_flow_frames", "flow", "inference", "provenance", "render",
                                                       "summary", "validate", *viewing])  # fmt: skip
    # the model frames stay: extraction does not depend on the method
    jobs = planned_jobs(finished, base_config(flow={"method": "none"}))
    assert sorted(rule for rule, _ in jobs) == sorted(["inference", "provenance", "render", "summary", "validate", *viewing])


def test_director_settings_rerun_the_viewing_rules_only(finished):
    # (and provenance.json, which gathers their records)
    assert sorted(planned_jobs(finished, base_config(director={"max_speed": 30}))) == [
        ("director", VIDEO), ("director_path", VIDEO), ("provenance", VIDEO), ("report_director", VIDEO),
        ("viewer", VIDEO)]  # fmt: skip
    assert sorted(planned_jobs(finished, base_config(director={"width": 320}))) == [
        ("director", VIDEO), ("provenance", VIDEO), ("report_director", VIDEO)]  # fmt: skip
    assert sorted(planned_jobs(finished, base_config(viewer={"crf": 35}))) == [("provenance", VIDEO), ("viewer", VIDEO)]
    # switched off: not planned, not asked for (provenance.json is gathered anew without their records)
    off = base_config(director={"enabled": False, "max_speed": 30}, viewer={"enabled": False})
    assert planned_jobs(finished, off) == [("provenance", VIDEO)]
    snakemake(finished, "--dry-run", config=base_config())  # leave the config file as the other tests expect


def test_tiles_by_default_and_encode_when_enabled(finished, tmp_path):
    """tiles.csv is a default output; encode.enabled adds encoded/ (and only its job, beside provenance)."""
    import json

    rows = outputs(finished, VIDEO)["tiles.csv"].read_text().splitlines()
    assert rows[0].startswith("segment,start_s,end_s,maps,layout,tile,") and len(rows) == 1 + 3 * 32  # 3 s, 1 s segments, 4x8
    workdir = copy_run(finished, tmp_path / "w")
    config = base_config(encode={"enabled": True, "width": 128, "preset": "ultrafast", "bitrate_kbps": 60})
    assert sorted(planned_jobs(workdir, config)) == [("encode", VIDEO), ("provenance", VIDEO)]
    snakemake(workdir, config=config)
    encoded = workdir / "results" / VIDEO / "encoded"
    record = json.loads((encoded / "encode.json").read_text())
    assert abs(record["size_ratio"] - 1) <= 0.01 and record["keyframes_s"]["roi"] == [0.0, 1.0, 2.0]
    for name in ("uniform.mp4", "roi.mp4"):
        info = probe_video(encoded / name)
        assert (info.width, info.height, info.frame_count, info.has_audio) == (128, 64, 36, True)
    assert planned_jobs(workdir, config) == []
    # a new segment length re-makes tiles.csv and with it the encode
    jobs = sorted(rule for rule, _ in planned_jobs(workdir, base_config(encode=config["encode"], tiles={"segment_s": 2.0})))
    assert jobs == ["encode", "provenance", "tiles"]


def test_add_videos_runs_only_theirs_and_broken_ones_fail_clearly(finished, tmp_path):
    workdir = copy_run(finished, tmp_path / "w")
    videos = workdir / "data" / "videos"
    make_clip(videos / "second.MOV", width=256, height=192, fps=8, seconds=2, seed=1)  # not 2:1
    truncate(make_clip(tmp_path / "src.mp4", seconds=2, faststart=True), videos / "cut.mp4", 0.6)
    make_audio_only(videos / "tone.m4v")
    jobs = planned_jobs(workdir, base_config())
    assert {video for _, video in jobs} == {"second", "cut", "tone"}
    before = {name: path.stat().st_mtime_ns for name, path in outputs(workdir, VIDEO).items()}

    result = snakemake(workdir, check=False)  # the default profile keeps going past broken videos
    assert result.returncode != 0
    console = result.stdout + result.stderr
    assert re.search(r"video \S*cut\.mp4 is truncated or corrupt", console), console[-3000:]
    assert re.search(r"\S*tone\.m4v has no video stream", console), console[-3000:]
    for video in ("cut", "tone"):
        assert not (workdir / "results" / video / "video.json").exists()
    for name, path in outputs(workdir, "second").items():
        assert path.exists(), name
    assert "not 2:1" in (workdir / "logs" / "probe" / "second.log").read_text()
    assert {name: path.stat().st_mtime_ns for name, path in outputs(workdir, VIDEO).items()} == before


def test_duplicate_stems_and_empty_folder(tmp_path):
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    empty = snakemake(tmp_path, "--dry-run", config=base_config(), check=False)
    assert empty.returncode != 0 and "no videos in data/videos" in empty.stdout + empty.stderr
    (videos / "a.mp4").write_bytes(b"x")
    (videos / "a.mkv").write_bytes(b"x")
    clash = snakemake(tmp_path, "--dry-run", config=base_config(), check=False)
    assert clash.returncode != 0 and "a.mkv and a.mp4" in clash.stdout + clash.stderr


def wait_for(predicate, process: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "snakemake ended before the stage under test started"
        assert time.monotonic() < deadline, "the stage under test did not start"
        time.sleep(0.02)


def test_sigkill_during_flow_and_inference_then_resume(finished, tmp_path):
    workdir = tmp_path / "w"
    (workdir / "data" / "videos").mkdir(parents=True)
    shutil.copy2(finished / "data" / "videos" / f"{VIDEO}.mp4", workdir / "data" / "videos")
    results = workdir / "results" / VIDEO
    config = base_config()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2"]  # fmt: skip
    for stage, partial in (("flow", ".flow.*.tmp"), ("saliency", ".saliency.*.tmp")):
        snakemake(workdir, "--unlock")
        process = subprocess.Popen(cmd, cwd=workdir, env=environment(), start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_for(lambda partial=partial: any(results.glob(partial)), process)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # snakemake and its running job, no chance to clean up
            process.wait()
        assert not (results / stage).exists(), f"the {stage} stage had already finished: nothing was interrupted"
    # SIGKILL leaves Snakemake's directory lock: the next run says what to do, and after that
    # the default profile (rerun-incomplete) redoes what was cut short
    locked = snakemake(workdir, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(workdir, "--unlock")
    snakemake(workdir)
    maps, names = maps_of(workdir)
    reference, reference_names = maps_of(finished)
    assert names == reference_names and np.array_equal(maps, reference)
    assert not list(results.glob(".*")), "temporary files left behind"


def test_bring_your_own_frames_and_flow(finished, tmp_path):
    byo = tmp_path / "byo"
    shutil.copytree(outputs(finished, VIDEO)["frames"], byo / "frames" / VIDEO)
    shutil.copytree(outputs(finished, VIDEO)["flow"], byo / "flow" / VIDEO)
    workdir = tmp_path / "w"
    workdir.mkdir()
    config = base_config(inputs={"frames": str(byo / "frames"), "flow": str(byo / "flow")}, videos=str(tmp_path / "none"))
    assert sorted(rule for rule, _ in planned_jobs(workdir, config)) == ["inference", "provenance", "summary", "validate"]
    snakemake(workdir, config=config)
    maps, names = maps_of(workdir)
    reference, reference_names = maps_of(finished)
    assert names == reference_names and np.array_equal(maps, reference)
    assert not (workdir / "results" / VIDEO / "overlay.mp4").exists()  # no source video, no overlay

    # a broken set: one frame missing in the middle -> the validation job fails and names it
    (byo / "frames" / VIDEO / f"{VIDEO}_0010.png").unlink()
    (byo / "flow" / VIDEO / f"{VIDEO}_0010.png").unlink()
    shutil.rmtree(workdir / "results")
    result = snakemake(workdir, config=config, check=False)
    assert result.returncode != 0
    assert f"{VIDEO}_0012.png follows {VIDEO}_0008.png" in result.stdout + result.stderr
    assert not (workdir / "results" / VIDEO / "validation.json").exists()
    assert not (workdir / "results" / VIDEO / "saliency").exists()


def make_read_only(folder: Path) -> str | None:
    """Make ``folder`` unwritable even for root; returns the user to run as (None: as is).

    root ignores permission bits: the folder is made immutable (chattr +i) or, where the file
    system does not support that, the workflow runs as an unprivileged user.
    """
    os.chmod(folder, 0o555)
    if os.geteuid() != 0:
        return None
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        return None
    for path in [folder.parent, *folder.parent.rglob("*")]:
        os.chown(path, 65534, 65534)
    return "65534"


def test_read_only_results_folder(finished):
    workdir = Path(tempfile.mkdtemp(prefix="sstsal-ro-", dir="/tmp"))
    results = workdir / "results"
    try:
        (workdir / "data" / "videos").mkdir(parents=True)
        shutil.copy2(finished / "data" / "videos" / f"{VIDEO}.mp4", workdir / "data" / "videos")
        results.mkdir()
        os.chmod(workdir, 0o755)
        user = make_read_only(results)
        result = snakemake(workdir, config=base_config(), user=user, check=False)
        assert result.returncode != 0
        console = result.stdout + result.stderr
        assert "cannot write to" in console and str(results.resolve()) in console
        assert list(results.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(results)], capture_output=True)
        os.chmod(results, 0o755)
        shutil.rmtree(workdir, ignore_errors=True)


def test_maps_equal_sstsal_predict(finished, tmp_path):
    out = tmp_path / "predict"
    result = subprocess.run(
        [sys.executable, "-m", "sstsal", "predict", "--frames", str(outputs(finished, VIDEO)["frames"]),
         "--flow", str(outputs(finished, VIDEO)["flow"]), "--out", str(out), "--save-raw", "--device", "cpu"],
        env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saliency = outputs(finished, VIDEO)["saliency"]
    pngs = sorted(p.name for p in saliency.glob("*.png"))
    assert pngs == sorted(p.name for p in out.glob("*.png"))
    for name in pngs:
        assert np.array_equal(cv2.imread(str(saliency / name)), cv2.imread(str(out / name))), name
    maps, names = maps_of(finished)
    with np.load(out / "raw.npz") as raw:
        predicted = np.stack([raw[name] for name in names]).astype(np.float16)
    assert np.array_equal(maps, predicted)


def test_gpu_resources_on_cuda(finished):
    """With model.device cuda the GPU stages declare gpu=1 (DIS flow runs on the CPU: gpu=0)."""

    def resources(config):
        out = snakemake(finished, "--dry-run", config=config)
        found, rule = {}, None
        for line in (out.stdout + out.stderr).splitlines():
            match = re.match(r"^(?:local)?rule (\w+):$", line.strip())
            if match:
                rule = match[1]
            match = re.search(r"gpu=(\d+)", line)
            if line.strip().startswith("resources:") and rule is not None:
                found[rule] = int(match[1]) if match else None
        return found

    raft = resources(base_config(model={"device": "cuda"}, flow={"method": "raft"}))
    assert raft["flow"] == 1 and raft["inference"] == 1 and raft["render"] is None
    dis = resources(base_config(model={"device": "cuda"}))
    assert dis["flow"] == 0 and dis["inference"] == 1
    snakemake(finished, "--dry-run", config=base_config())  # leave the config file as the other tests expect
