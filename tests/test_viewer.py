"""The 360-degree viewer page (sstsal.viewing.viewer), built and then driven in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from browser import CANVAS_STATS, start_browser
from videoclips import make_clip

from sstsal.media.saliency_stack import save_stack
from sstsal.media.video import probe_video
from sstsal.viewing.camera import DirectorSettings, angle_between, direction
from sstsal.viewing.director import write_director_path
from sstsal.viewing.viewer import ViewerSettings, make_viewer

YY, XX = np.mgrid[0:240, 0:320]


# Integration tests (a real browser): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """viewer.html of a 4 s clip whose saliency sits at yaw ~ +100 degrees (far from the start view)."""
    root = tmp_path_factory.mktemp("viewer")
    clip = make_clip(root / "clip.mp4", width=512, height=256, fps=12, seconds=4, audio=True)
    names = [f"clip_{i:04d}" for i in range(0, 48, 2)]
    blob = np.exp(-((XX - 248) ** 2 + (YY - 110) ** 2) / (2 * 12**2)).astype(np.float32)
    save_stack(root / "saliency.npz", {name: blob for name in names})
    info = probe_video(clip)
    write_director_path(root / "saliency.npz", info, root / "director.csv", DirectorSettings())
    make_viewer(clip, root / "saliency.npz", root / "director.csv", root / "viewer.html",
                settings=ViewerSettings(width=256, preset="ultrafast"), info=info, progress=False)  # fmt: skip
    return root / "viewer.html"


def test_page_is_self_contained(page, tmp_path):
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page must not load anything from a network"
    data = json.loads(re.search(r'<script type="application/json" id="sstsal-data">(.*?)</script>', html, re.S)[1])
    assert len(data["peaks"]) == 24 and data["audio"] is True and data["duration"] == pytest.approx(4.0)
    assert all(abs(yaw - 99.5) < 2 for _, yaw, _ in data["peaks"])
    assert data["director"][0][0] == 0 and data["director"][-1][0] == pytest.approx(47 / 12, abs=1e-3)
    assert len(base64.b64decode(data["lut"])) == 256 * 3
    encoded = tmp_path / "inside.mp4"
    encoded.write_bytes(base64.b64decode(re.search(r'src="data:video/mp4;base64,([^"]+)"', html)[1]))
    inside = probe_video(encoded)
    assert (inside.width, inside.height, inside.frame_count, inside.has_audio) == (256, 256, 48, True)


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


def viewer_state(driver) -> dict:
    return driver.execute_script(
        "const s = window.sstsalViewer, v = document.getElementById('video');"
        "return {yaw: s.yaw, pitch: s.pitch, fov: s.fov, following: s.following, videoFrames: s.videoFrames,"
        " time: v.currentTime, paused: v.paused, error: v.error && v.error.message};"
    )


def wait_for(driver, condition, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        state = viewer_state(driver)
        if condition(state) or time.monotonic() > end:
            return state
        time.sleep(0.2)


def path_distance(page, state) -> float:
    """Degrees between the view and the director's path at the page's current time."""
    rows = json.loads(re.search(r'id="sstsal-data">(.*?)</script>', page.read_text(), re.S)[1])["director"]
    row = min(rows, key=lambda r: abs(r[0] - state["time"]))
    return float(np.degrees(angle_between(direction(state["yaw"], state["pitch"]), direction(row[1], row[2]))))


def test_viewer_in_chromium(page, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    state = wait_for(browser, lambda s: s["videoFrames"] > 2 and s["time"] > 0.2)
    assert state["error"] is None and not state["paused"], state
    assert state["videoFrames"] > 2 and state["time"] > 0.2, f"the video did not start playing: {state}"
    mean, spread = browser.execute_script(CANVAS_STATS)
    assert mean > 30 and spread > 20, f"the view is blank or flat (mean {mean}, spread {spread})"

    # heatmap off changes what is drawn
    browser.find_element(By.ID, "heat").click()
    time.sleep(0.5)
    assert browser.execute_script(CANVAS_STATS) != [mean, spread]
    browser.find_element(By.ID, "heat").click()

    # a drag turns the view
    before = viewer_state(browser)
    view = browser.find_element(By.ID, "view")
    ActionChains(browser).move_to_element(view).click_and_hold().move_by_offset(-150, 40).release().perform()
    after = viewer_state(browser)
    assert after["yaw"] - before["yaw"] > 5 and after["pitch"] - before["pitch"] > 1, (before, after)
    assert not after["following"]

    # "follow saliency" brings the view to the director's path (about +100 degrees, away from here)
    start = path_distance(page, after)
    assert start > 40
    browser.find_element(By.ID, "follow").click()
    followed = wait_for(browser, lambda s: path_distance(page, s) < 10, timeout=20)
    assert followed["following"] and path_distance(page, followed) < 10, (start, followed)

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_viewer_inside_the_snakemake_report(page, browser, tmp_path):
    """The report shows an HTML result in an iframe whose src is the file's data: URL
    (snakemake/report/html_reporter/template/components/content.js): the video plays there too."""
    encoded = base64.b64encode(page.read_bytes()).decode()
    report = tmp_path / "report.html"
    report.write_text(f'<!doctype html><iframe id="result" style="width:880px;height:720px" '
                      f'src="data:text/html;charset=utf8;filename=viewer.html;base64,{encoded}"></iframe>')  # fmt: skip
    browser.get(report.as_uri())
    browser.switch_to.frame(browser.find_element("id", "result"))
    try:
        state = wait_for(browser, lambda s: s["videoFrames"] > 2 and s["time"] > 0.2)
        assert state["error"] is None and state["videoFrames"] > 2, f"the video did not play in the report: {state}"
        mean, spread = browser.execute_script(CANVAS_STATS)
        assert mean > 30 and spread > 20, f"the view is blank or flat (mean {mean}, spread {spread})"
    finally:
        browser.switch_to.default_content()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.mark.slow
def test_report_page_of_a_60_s_video_plays_inside_the_report(browser, tmp_path):
    """A 60 s video's page for the report stays under Chromium's 2 MiB limit for the report's
    data: URL iframe, and plays there (the whole page of a real-length video is refused: blank)."""
    from sstsal.viewing.viewer import CHROMIUM_URL_LIMIT, REPORT_PAGE_BYTES, make_report_viewer

    clip = make_clip(tmp_path / "long.mp4", width=512, height=256, fps=24, seconds=60, audio=True)
    names = [f"long_{i:04d}" for i in range(0, 1440, 3)]
    rng = np.random.default_rng(0)
    maps = {n: np.exp(-((XX - rng.uniform(40, 280)) ** 2 + (YY - 120) ** 2) / (2 * 15**2)).astype(np.float32)
            for n in names}  # fmt: skip
    save_stack(tmp_path / "saliency.npz", maps)
    info = probe_video(clip)
    write_director_path(tmp_path / "saliency.npz", info, tmp_path / "director.csv", DirectorSettings())
    out = tmp_path / "viewer_report.html"
    size = make_report_viewer(clip, tmp_path / "saliency.npz", tmp_path / "director.csv", out,
                              settings=ViewerSettings(preset="ultrafast"), info=info, progress=False)  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert size == out.stat().st_size <= REPORT_PAGE_BYTES
    encoded = base64.b64encode(out.read_bytes()).decode()
    uri = f"data:text/html;charset=utf8;filename=viewer_report.html;base64,{encoded}"
    assert len(uri) < CHROMIUM_URL_LIMIT
    inside = tmp_path / "inside.mp4"
    inside.write_bytes(base64.b64decode(re.search(r'src="data:video/mp4;base64,([^"]+)"', html)[1]))
    video = probe_video(inside)
    assert video.fps == 15 and video.frame_count == 900 and not video.has_audio  # the whole minute, no sound
    assert video.width >= 256
    report = tmp_path / "report.html"
    report.write_text(f'<!doctype html><iframe id="result" style="width:880px;height:720px" src="{uri}"></iframe>')
    browser.get(report.as_uri())
    browser.switch_to.frame(browser.find_element("id", "result"))
    try:
        state = wait_for(browser, lambda s: s["videoFrames"] > 2 and s["time"] > 0.2)
        assert state["error"] is None and state["videoFrames"] > 2, f"the video did not play in the report: {state}"
        mean, spread = browser.execute_script(CANVAS_STATS)
        assert mean > 30 and spread > 20, f"the view is blank or flat (mean {mean}, spread {spread})"
        # the end of the minute is there too
        browser.execute_script("document.getElementById('video').currentTime = 58;")
        late = wait_for(browser, lambda s: s["time"] > 58.2)
        assert late["time"] > 58.2 and late["error"] is None, late
    finally:
        browser.switch_to.default_content()
