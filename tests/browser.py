"""A headless Chromium driven by selenium, for the viewer page's tests and screenshots.

Debian's ``chromium`` and ``chromium-driver`` (apt; ``.ci/run`` installs them); WebGL runs on
SwiftShader, the CPU renderer. A missing browser is a failure with the install command, not
a skip: the viewer is only tested in a real browser.
"""

from __future__ import annotations

import shutil

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver", "chromium-driver")


def start_browser(width: int = 900, height: int = 760):
    """A headless Chromium with WebGL (SwiftShader), autoplay allowed and console logs kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    driver = next((shutil.which(n) for n in DRIVER_NAMES if shutil.which(n)), None)
    if binary is None or driver is None:
        pytest.fail("the viewer tests need Chromium and its driver: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
                     "--enable-unsafe-swiftshader", "--autoplay-policy=no-user-gesture-required",
                     f"--window-size={width},{height}", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


# The view's pixels, read through WebGL (the page keeps its drawing buffer): mean and spread.
CANVAS_STATS = """
const c = document.getElementById('view'), g = c.getContext('webgl');
const px = new Uint8Array(c.width * c.height * 4);
g.readPixels(0, 0, c.width, c.height, g.RGBA, g.UNSIGNED_BYTE, px);
let sum = 0, sq = 0, n = 0;
for (let i = 0; i < px.length; i += 4 * 31) { const v = px[i] + px[i + 1] + px[i + 2]; sum += v; sq += v * v; n++; }
const mean = sum / n; return [mean, Math.sqrt(sq / n - mean * mean)];
"""
