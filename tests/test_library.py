"""A video library processed run after run, through the workflow's command line: a folder with
one good clip (not 2:1, so it warns), two broken files, one file left out by an `exclude` pattern
and one by the sample sheet's `exclude` column.

One run of the folder (module fixture) is shared: the closing table names the failed videos with
their reasons and logs; the next run skips them in one line; the same folder spelled differently
reruns nothing; the report shows what finished, lists the others, and its viewer plays in Chromium.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from videoclips import make_clip, shared_dir

from sstsal.media.video import probe_video

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
LONG_STAGES = ("extract_frames", "extract_flow_frames", "flow", "inference", "render", "director", "viewer")


def environment() -> dict:
    models = shared_dir() / "models"
    assert (models / "SST_Sal.pth").is_file(), f"missing shared checkpoints in {models} (set SSTSAL_SHARED)"
    return dict(os.environ, SSTSAL_MODELS=str(models), PATH=f"{SNAKEMAKE.parent}:{os.environ['PATH']}")


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """The repository's workflow in ``workdir`` with its default profile (keep-going), not checked."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, env=environment(), capture_output=True, text=True, timeout=900)


def console(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    workdir = tmp_path_factory.mktemp("library")
    videos = workdir / "videos"
    make_clip(videos / "clip.mp4", width=256, height=144, fps=24, seconds=3.5)  # 16:9: a "not 2:1" warning
    (videos / "bad.mp4").write_bytes(b"")
    (videos / "notes.mp4").write_text("not a video\n")
    shutil.copy2(videos / "clip.mp4", videos / "skip_me.mp4")
    shutil.copy2(videos / "clip.mp4", videos / "old.mp4")
    (workdir / "sheet.tsv").write_text("video\texclude\nold\tyes\nclip\t\n")
    config = {
        "videos": "videos",
        "exclude": ["SKIP_*"],
        "sheet": "sheet.tsv",
        "flow": {"method": "dis", "width": 256},
        "model": {"device": "cpu"},
        "render": {"width": 256, "preset": "ultrafast"},
        "summary": {"frames": 4},
        "director": {"width": 128, "height": 72, "preset": "ultrafast"},
        "viewer": {"width": 128, "preset": "ultrafast"},
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir, snakemake(workdir)


def assert_viewer_plays(driver, where: str) -> None:
    """The viewer page in ``driver``'s current frame plays (frames advance) and draws a picture."""
    from browser import CANVAS_STATS

    state = {}
    for _ in range(150):
        state = driver.execute_script("const v = document.getElementById('video'), s = window.sstsalViewer;"
                                      "return s ? {frames: s.videoFrames, time: v.currentTime} : null;")  # fmt: skip
        if state and state["frames"] > 2 and state["time"] > 0.2:
            break
        time.sleep(0.2)
    assert state and state["frames"] > 2, f"the viewer did not play {where}: {state}"
    mean, spread = driver.execute_script(CANVAS_STATS)
    assert mean > 30 and spread > 20, (mean, spread)


def test_closing_table_names_failed_and_skipped_videos(library):
    workdir, run = library
    text = console(run)
    assert run.returncode == 1, text[-3000:]
    table = text[text.index("videos: 1 finished, 2 failed, 2 skipped"):]
    assert re.search(r"finished +clip +results/clip/", table), table
    for name in ("bad", "notes"):
        assert re.search(rf"failed +{name} +probe: cannot read video .*{name}\.mp4.* \(the file.s fault: left out until the file changes; log: logs/probe/{name}\.log\)", table), table
    assert re.search(r"skipped +skip_me +excluded by the pattern 'SKIP_\*'", table), table
    assert re.search(r"skipped +old +excluded by the sample sheet \(column `exclude`\)", table), table
    assert re.search(r"warning +clip +probe: clip\.mp4 is 256x144, not 2:1", table), table
    assert "snakemake --report report.html (about" in table
    assert "Shell command: None" not in text
    for name in ("skip_me", "old"):
        assert not (workdir / "results" / name).exists() and not (workdir / "logs" / "probe" / f"{name}.log").exists()


def test_warnings_in_provenance(library):
    workdir, _ = library
    provenance = json.loads((workdir / "results" / "clip" / "provenance.json").read_text())
    assert any("not 2:1" in w for w in provenance["warnings"]), provenance["warnings"]
    assert any("not 2:1" in w for w in json.loads((workdir / "results" / "clip" / "provenance" / "probe.json").read_text())["warnings"])


def test_progress_in_every_long_stage_log(library):
    workdir, _ = library
    for stage in LONG_STAGES:
        log = (workdir / "logs" / stage / "clip.log").read_text(encoding="utf-8")
        assert "100%" in log and "frame" in log, f"no progress bar in logs/{stage}/clip.log:\n{log[-500:]}"


def test_small_things_of_a_finished_video(library):
    workdir, _ = library
    results = workdir / "results" / "clip"
    assert not (results / "flow_frames").exists(), "flow_frames/ should be temporary by default"
    director = probe_video(results / "director.mp4")
    # 256 source pixels over 360 degrees hold 64 across the 90-degree view: upscaled to the 128x72
    # asked for (the cut is at least 640x360, or director.width x height when that is smaller)
    assert (director.width, director.height) == (128, 72)


def test_failed_video_stays_failed_until_the_file_changes(library):
    workdir, _ = library
    again = snakemake(workdir)
    text = console(again)
    assert again.returncode == 0, text[-3000:]
    for name in ("bad", "notes"):
        lines = [line for line in text.splitlines() if line.startswith(f"skipped {name}.mp4: failed before")]
        assert len(lines) == 1 and f"logs/probe/{name}.log" in lines[0], text[:3000]
    assert "rule probe" not in text and "Nothing to be done" in text
    assert "videos: 1 finished, 4 skipped" in text
    # a changed file is tried again
    bad = workdir / "videos" / "bad.mp4"
    before = bad.stat()
    os.utime(bad, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    try:
        planned = console(snakemake(workdir, "--dry-run"))
    finally:
        os.utime(bad, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "wildcards: video=bad" in planned and "skipped bad.mp4" not in planned, planned[-3000:]


def test_same_folder_spelled_differently_reruns_nothing(library):
    workdir, _ = library
    spelled = f"videos={workdir}/./videos/../videos/"
    dry = snakemake(workdir, "--dry-run", "--config", spelled)
    assert dry.returncode == 0 and "Nothing to be done" in console(dry), console(dry)[-3000:]
    # the same folder through a symlink (a library on a linked drive): planned as the folder itself
    link = workdir.parent / f"{workdir.name}-linked-videos"
    link.symlink_to(workdir / "videos", target_is_directory=True)
    dry = snakemake(workdir, "--dry-run", "--config", f"videos={link}")
    assert dry.returncode == 0 and "Nothing to be done" in console(dry), console(dry)[-3000:]


def test_folder_errors_are_one_line(library):
    workdir, _ = library
    for value, message in (("videos/clip.mp4", "names a file, not a folder"), ("no/such/folder", "does not exist")):
        run = snakemake(workdir, "--dry-run", "--config", f"videos={value}")
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert run.returncode != 0 and len(errors) == 1 and message in errors[0], run.stderr[-2000:]
        assert "WorkflowError" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]


def test_report_of_what_finished_plays_its_viewer(library, tmp_path):
    from browser import start_browser

    workdir, _ = library
    stated = float(re.search(r"report\.html \(about ([\d.]+) MB\)", console(snakemake(workdir)))[1])
    report = tmp_path / "report.html"
    made = snakemake(workdir, "--report", str(report))
    assert made.returncode == 0 and report.is_file(), console(made)[-3000:]
    html = report.read_text(encoding="utf-8", errors="replace")
    size = report.stat().st_size / 1e6
    assert abs(size - stated) < 0.25 * size, (size, stated)
    # the front page lists what is not in the report, with the reason
    for text in ("Not in this report (4)", "bad", "notes", "skip_me", "cannot read video", "excluded by the pattern",
                 "not 2:1"):  # fmt: skip
        assert text in html, text
    # the report carries the lighter viewer page, not the whole one, and it plays inside the report's iframe
    assert "filename=viewer.html;" not in html
    uri = re.search(r'data:text/html;charset=utf8;filename=viewer_report\.html;base64,[A-Za-z0-9+/=]+', html)[0]
    page = tmp_path / "iframe.html"
    page.write_text(f'<!doctype html><iframe id="result" style="width:880px;height:720px" src="{uri}"></iframe>')
    driver = start_browser()
    try:
        driver.get(page.as_uri())
        driver.switch_to.frame(driver.find_element("id", "result"))
        assert_viewer_plays(driver, "inside the report")
    finally:
        driver.quit()
    b64 = uri.split("base64,", 1)[1]
    assert len(base64.b64decode(b64)) < 1_500_000


def test_zip_report_opens_from_its_folder_and_plays_its_viewer(library, tmp_path):
    """The report a big library is told to make (`--report report.zip`): unpacked, its page opens
    from disk and links each result as a file beside it; the viewer plays in the page's iframe."""
    import zipfile

    from browser import start_browser

    from sstsal.pipeline.library import report_sizes_mb

    workdir, _ = library
    stated_html = float(re.search(r"report\.html \(about ([\d.]+) MB\)", console(snakemake(workdir)))[1])
    archive = tmp_path / "report.zip"
    made = snakemake(workdir, "--report", str(archive))
    assert made.returncode == 0 and archive.is_file(), console(made)[-3000:]
    with zipfile.ZipFile(archive) as unpacked:
        names = unpacked.namelist()
        unpacked.extractall(tmp_path / "unpacked")
    page = tmp_path / "unpacked" / "report" / "report.html"
    viewers = [n.removeprefix("report/") for n in names if n.endswith("/viewer_report.html")]
    assert page.is_file() and len(viewers) == 1, names
    assert not any(n.endswith("/viewer.html") for n in names), names  # the light page, not the whole one
    for result in ("overlay.mp4", "contact_sheet.png", "director.mp4", "provenance.json"):
        assert any(n.endswith(f"/{result}") for n in names), result
    html = page.read_text(encoding="utf-8", errors="replace")
    assert viewers[0] in html and "filename=viewer_report.html;base64," not in html  # linked, not carried
    # its size, as the closing line's estimate for the zip puts it (results as files, not base64)
    zip_mb = report_sizes_mb(int((stated_html - report_sizes_mb(0)[0]) * 3 / 4 * 1e6))[1]
    assert abs(archive.stat().st_size / 1e6 - zip_mb) < 0.25 * zip_mb, (archive.stat().st_size, zip_mb)
    # the report's page shows an HTML result in an iframe whose src is the file's relative path
    frame = page.parent / "frame.html"
    frame.write_text(f'<!doctype html><iframe id="result" style="width:880px;height:720px" src="{viewers[0]}"></iframe>')
    driver = start_browser()
    try:
        driver.get(page.as_uri())  # the report's own page opens from disk and lists the viewer's category
        shown = ""
        for _ in range(50):
            shown = driver.execute_script("return document.body.innerText")
            if "360-degree viewer" in shown:
                break
            time.sleep(0.2)
        assert "360-degree viewer" in shown, shown[:2000]
        driver.get(frame.as_uri())
        driver.switch_to.frame(driver.find_element("id", "result"))
        assert_viewer_plays(driver, "from the unpacked zip report")
    finally:
        driver.quit()
