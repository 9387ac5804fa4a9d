"""The viewer of a long video: a 10-minute clip (small and at 2 frames a second, so it is cheap) whose
page plays its video from beside itself through `sstsal view`, seeks to minute 9 and shows that
minute's heatmap (pixels compared with the map); the report's page stays small and playable."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from browser import CANVAS_STATS, start_browser
from videoclips import make_clip

from sstsal.media.render import colormap_lut
from sstsal.media.video import probe_video
from sstsal.viewing.director import camera_rays, project
from sstsal.viewing.viewer import CHROMIUM_URL_LIMIT, REPORT_PAGE_BYTES, ViewerSettings, make_viewer

pytestmark = pytest.mark.slow  # a real browser

FPS, MINUTES, STEP = 2, 10, 4  # source frames a second, length, source frames per sampled map
YY, XX = np.mgrid[0:240, 0:320]


def blob_centre(minute: int) -> tuple[float, float]:
    """(yaw, pitch) of minute ``minute``'s saliency: a different place in the front view every minute."""
    return float((minute * 47) % 120 - 60), float((minute * 29) % 40 - 20)


def minute_map(minute: int) -> np.ndarray:
    """The (240, 320) uint8 map of every sampled frame of a minute, min-max scaled as the model writes it."""
    yaw, pitch = blob_centre(minute)
    x, y = (yaw + 180) / 360 * 320 - 0.5, (90 - pitch) / 180 * 240 - 0.5
    blob = np.exp(-((XX - x) ** 2 + (YY - y) ** 2) / (2 * 14**2))
    return np.round((blob - blob.min()) / (blob.max() - blob.min()) * 255).astype(np.uint8)


def write_results(folder, name: str, minutes: int):
    """results/<name>/: a source clip, saliency/ with one PNG per sampled frame, director.csv."""
    folder.mkdir(parents=True)
    clip = make_clip(folder / f"{name}.mp4", width=128, height=64, fps=FPS, seconds=60 * minutes)
    (folder / "saliency").mkdir()
    for frame in range(0, FPS * 60 * minutes, STEP):
        cv2.imwrite(str(folder / "saliency" / f"{name}_{frame:04d}.png"), minute_map(frame // (60 * FPS)))
    rows = ["time_s,yaw_deg,pitch_deg,fov_deg,cut"]
    for frame in range(FPS * 60 * minutes):
        minute = frame // (60 * FPS)
        cut = int(frame > 0 and frame % (60 * FPS) == 0)  # a cut to the next minute's place
        rows.append(f"{frame / FPS:.4f},{blob_centre(minute)[0]:.2f},{blob_centre(minute)[1]:.2f},90.00,{cut}")
    (folder / "director.csv").write_text("\n".join(rows) + "\n")
    return clip


SETTINGS = ViewerSettings(width=128, preset="ultrafast", embed_mb=0)  # the video always beside the page


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    made = {}
    for name, minutes in (("long", MINUTES), ("short", 1)):
        folder = root / "results" / name
        clip = write_results(folder, name, minutes)
        info = probe_video(clip)
        make_viewer(clip, folder / "saliency", folder / "director.csv", folder / "viewer.html", settings=SETTINGS,
                    info=info, progress=False, report_html=folder / "viewer_report.html")  # fmt: skip
        made[name] = folder
    return made


def test_page_does_not_grow_with_the_video(results):
    long_page, short_page = (results[n] / "viewer.html" for n in ("long", "short"))
    html = long_page.read_text(encoding="utf-8")
    assert "data:video/mp4" not in html and 'src="viewer.mp4"' in html
    # ten minutes against one: the same page but for the name and the numbers of the duration
    assert abs(long_page.stat().st_size - short_page.stat().st_size) < 64, (long_page.stat().st_size, short_page.stat().st_size)
    assert long_page.stat().st_size < 25_000
    video = probe_video(results["long"] / "viewer.mp4")
    assert (video.width, video.height, video.frame_count) == (128, 128, FPS * 60 * MINUTES)
    rows = json.loads((results["long"] / "viewer.json").read_text())
    assert len(rows["peaks"]) == FPS * 60 * MINUTES // STEP
    nine = [p for p in rows["peaks"] if 540 <= p[0] < 600]
    assert all(abs(yaw - blob_centre(9)[0]) < 1.5 and abs(pitch - blob_centre(9)[1]) < 1.5 for _, yaw, pitch in nine)
    assert sum(r[3] for r in rows["director"]) == MINUTES - 1  # every cut kept


def test_range_requests_of_the_video(results):
    from urllib.request import Request, urlopen

    from sstsal.viewing.serve import page_url, viewer_server

    server = viewer_server(results["long"])
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = page_url(server).rsplit("/", 1)[0]
        whole = (results["long"] / "viewer.mp4").read_bytes()
        with urlopen(Request(f"{base}/viewer.mp4", headers={"Range": "bytes=1000-1999"})) as answer:
            assert answer.status == 206 and answer.read() == whole[1000:2000]
            assert answer.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(results):
    """`sstsal view results/long`, as a person starts it; its address."""
    process = subprocess.Popen([sys.executable, "-m", "sstsal", "view", str(results["long"]), "--no-browser"],
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/viewer\.html", line)
        assert url, line
        yield url[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def viewer_state(driver) -> dict:
    return driver.execute_script(
        "const s = window.sstsalViewer, v = document.getElementById('video');"
        "return s && {ready: s.ready, frames: s.videoFrames, time: v.currentTime, paused: v.paused,"
        " seeking: v.seeking, readyState: v.readyState, error: v.error && v.error.message,"
        " status: document.getElementById('status').textContent};"
    )


def wait_for(driver, condition, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        state = viewer_state(driver)
        if (state and condition(state)) or time.monotonic() > end:
            return state
        time.sleep(0.2)


# Every third pixel of the view (RGB) in base64, top row first, with the canvas size (WebGL reads bottom up).
CANVAS_PIXELS = """
const c = document.getElementById('view'), g = c.getContext('webgl'), w = c.width, h = c.height;
const px = new Uint8Array(w * h * 4);
g.readPixels(0, 0, w, h, g.RGBA, g.UNSIGNED_BYTE, px);
const out = [];
for (let y = h - 1; y >= 0; y -= 3) for (let x = 0; x < w; x += 3) { const i = 4 * (y * w + x); out.push(px[i], px[i + 1], px[i + 2]); }
let text = '';
for (let i = 0; i < out.length; i += 8192) text += String.fromCharCode.apply(null, out.slice(i, i + 8192));
return [w, h, btoa(text)];
"""


def shown_saliency(driver) -> tuple[np.ndarray, tuple[int, int]]:
    """The saliency in [0, 1] the view shows at full heatmap opacity (each pixel's nearest colormap
    entry) at every third pixel, and the canvas's (height, width)."""
    width, height, pixels = driver.execute_script(CANVAS_PIXELS)
    rgb = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(len(range(0, height, 3)), len(range(0, width, 3)), 3)
    lut = colormap_lut("inferno")[:, ::-1].astype(np.int32)  # BGR -> RGB, as the page's
    distances = ((rgb.reshape(-1, 1, 3).astype(np.int32) - lut[None]) ** 2).sum(-1)
    return distances.argmin(-1).reshape(rgb.shape[:2]) / 255.0, (height, width)


def expected_view(minute: int, shape: tuple[int, int], yaw: float, pitch: float, fov: float) -> np.ndarray:
    """Minute ``minute``'s map seen in (yaw, pitch) by a canvas of ``shape`` (H, W), every third pixel."""
    grey = np.repeat(minute_map(minute)[..., None], 3, axis=2)
    return project(grey, camera_rays(shape[1], shape[0], fov), yaw, pitch)[::3, ::3, 0] / 255.0


def test_long_video_plays_seeks_to_minute_9_and_shows_its_heatmap(results, served, browser):
    browser.get(served)
    state = wait_for(browser, lambda s: s["ready"] and s["frames"] > 2 and s["time"] > 0.3)
    assert state["ready"] and state["error"] is None and not state["paused"], state
    assert state["time"] > 0.3, f"the video did not start playing: {state}"
    mean, spread = browser.execute_script(CANVAS_STATS)
    assert mean > 30 and spread > 20, f"the view is blank or flat (mean {mean}, spread {spread})"

    # minute 9: seek, pause, look straight ahead with the heatmap alone
    browser.execute_script(
        "const v = document.getElementById('video'); v.pause(); v.currentTime = 545;"
        "Object.assign(window.sstsalViewer, {yaw: 0, pitch: 0, fov: 120, following: false, heat: true, opacity: 1});"
    )
    state = wait_for(browser, lambda s: abs(s["time"] - 545) < 0.01 and not s["seeking"] and s["readyState"] >= 2)
    assert abs(state["time"] - 545) < 0.01 and not state["seeking"], f"the seek to minute 9 did not finish: {state}"
    time.sleep(0.5)  # a few frames drawn from the new position
    shown, canvas = shown_saliency(browser)
    correlation = {m: np.corrcoef(shown.ravel(), expected_view(m, canvas, 0, 0, 120).ravel())[0, 1] for m in (0, 8, 9)}
    print(f"correlation of the view with the maps of minutes 0, 8, 9: {correlation}")
    assert correlation[9] > 0.85, correlation
    assert correlation[8] < 0.3 and correlation[0] < 0.3, correlation
    # its maximum where minute 9's is (the view is 120 degrees wide)
    expected = expected_view(9, canvas, 0, 0, 120)
    found = np.unravel_index(np.argmax(cv2.GaussianBlur(shown, (0, 0), 2)), shown.shape)
    where = np.unravel_index(np.argmax(expected), expected.shape)
    assert np.hypot(found[0] - where[0], found[1] - where[1]) < 0.05 * shown.shape[1], (found, where)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_long_page_from_disk_says_how_to_open_it(results, browser):
    browser.get((results["long"] / "viewer.html").as_uri())
    state = wait_for(browser, lambda s: "sstsal view" in s["status"], timeout=10)
    assert f"sstsal view {results['long']}" in state["status"], state


def test_report_page_of_the_long_video_is_a_preview_that_plays(results, browser, tmp_path):
    page = results["long"] / "viewer_report.html"
    assert page.stat().st_size <= REPORT_PAGE_BYTES
    html = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="sstsal-data">(.*?)</script>', html, re.S)[1])
    assert data["duration"] == 60 and data["fullDuration"] == 600 and "first 1:00 of 10:00" in data["notice"]
    inside = tmp_path / "inside.mp4"
    inside.write_bytes(base64.b64decode(re.search(r'src="data:video/mp4;base64,([^"]+)"', html)[1]))
    assert probe_video(inside).frame_count == FPS * 60  # the first minute, at the clip's 2 frames a second
    uri = f"data:text/html;charset=utf8;filename=viewer_report.html;base64,{base64.b64encode(page.read_bytes()).decode()}"
    assert len(uri) < CHROMIUM_URL_LIMIT
    report = tmp_path / "report.html"
    report.write_text(f'<!doctype html><iframe id="result" style="width:880px;height:720px" src="{uri}"></iframe>')
    browser.get(report.as_uri())
    browser.switch_to.frame(browser.find_element("id", "result"))
    try:
        state = wait_for(browser, lambda s: s["frames"] > 2 and s["time"] > 0.3)
        assert state["error"] is None and state["time"] > 0.3, f"the report's viewer did not play: {state}"
        mean, spread = browser.execute_script(CANVAS_STATS)
        assert mean > 30 and spread > 20, (mean, spread)
        notice = browser.execute_script("return document.getElementById('notice').textContent")
        assert "sstsal view results/long" in notice, notice
    finally:
        browser.switch_to.default_content()


def test_viewer_command_reads_the_saliency_folder(results, tmp_path):
    """`sstsal viewer VIDEO --maps results/NAME/saliency`: the maps one at a time, the director.csv
    beside the folder, the page and its video and data written, and the way to open it said."""
    folder = results["short"]
    out = tmp_path / "page" / "viewer.html"
    run = subprocess.run([sys.executable, "-m", "sstsal", "viewer", str(folder / "short.mp4"), "--maps",
                          str(folder / "saliency"), "--out", str(out), "--encode-width", "128", "--preset", "ultrafast",
                          "--embed-mb", "0"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"open it with  sstsal view {out}" in run.stderr, run.stderr
    assert out.read_text(encoding="utf-8") == (folder / "viewer.html").read_text(encoding="utf-8")
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads((folder / "viewer.json").read_text())
    missing = subprocess.run([sys.executable, "-m", "sstsal", "viewer", str(folder / "short.mp4"), "--maps",
                              str(tmp_path / "page"), "--out", str(tmp_path / "x.html")],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.startswith("error: no director.csv beside"), missing.stderr
