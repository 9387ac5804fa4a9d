"""Screenshots for the README: the viewer page in headless Chromium and a still of the director's cut.

    PYTHONPATH=. .venv/bin/python docs/make_screenshots.py results/<video>

writes docs/viewer.png (the page, following the saliency, a few seconds in) and docs/director.png
(the middle frame of director.mp4). Needs chromium and chromium-driver (see tests/browser.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import start_browser  # noqa: E402

DOCS = Path(__file__).resolve().parent


def viewer_screenshot(page: Path, out: Path, seconds: float) -> None:
    from selenium.webdriver.common.by import By

    driver = start_browser(1100, 1010)
    try:
        driver.get(page.resolve().as_uri())
        driver.find_element(By.ID, "follow").click()
        end = time.monotonic() + 60
        while driver.execute_script("return document.getElementById('video').currentTime") < seconds:
            if time.monotonic() > end:
                raise SystemExit(f"{page}: the video did not reach {seconds} s in a minute")
            time.sleep(0.1)
        driver.execute_script("document.getElementById('video').pause()")
        time.sleep(1.0)  # let the view settle on the paused frame
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def director_still(video: Path, out: Path) -> None:
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, capture.get(cv2.CAP_PROP_FRAME_COUNT) // 2)
    ok, frame = capture.read()
    if not ok:
        raise SystemExit(f"cannot read a frame of {video}")
    cv2.imwrite(str(out), frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="results/<video> of a finished run")
    parser.add_argument("--at", type=float, default=4.0, help="video time of the viewer screenshot (default 4 s)")
    args = parser.parse_args()
    viewer_screenshot(args.results / "viewer.html", DOCS / "viewer.png", args.at)
    director_still(args.results / "director.mp4", DOCS / "director.png")
    print(f"wrote {DOCS / 'viewer.png'} and {DOCS / 'director.png'}")


if __name__ == "__main__":
    main()
