"""Overlay rendering (sstsal.media.render): codec, size, timing, audio, the published blend."""

from __future__ import annotations

import subprocess

import cv2
import matplotlib
import numpy as np
import pytest
from videoclips import FFMPEG, decode_opencv, make_clip

from sstsal.errors import InputError
from sstsal.media.render import blend, colormap_lut, render_overlay, render_size
from sstsal.media.saliency_stack import save_stack
from sstsal.media.video import VideoInfo, probe_video


def test_colormap_lut_is_the_published_inferno():
    lut = colormap_lut("inferno")
    # published: (cmap(uint8 map) * 2**8).astype(uint8), then RGB -> BGR
    expected = (matplotlib.colormaps["inferno"](np.arange(256, dtype=np.uint8)) * 2**8).astype(np.uint8)[:, :3]
    assert np.array_equal(lut, expected[:, ::-1])
    with pytest.raises(InputError, match="unknown colormap"):
        colormap_lut("no-such-map")


def test_blend_is_add_weighted():
    frame = np.full((2, 2, 3), 200, np.uint8)
    heat = np.full((2, 2, 3), 50, np.uint8)
    assert np.array_equal(blend(frame, heat, 0.5), cv2.addWeighted(frame, 0.5, heat, 0.5, 0.0))
    assert blend(frame, heat, 0.5)[0, 0, 0] == 125


def test_render_size():
    big = VideoInfo("x", 3840, 1920, 30.0, "30", 1, 1.0, False, "h264")
    assert render_size(big, None) == (1920, 960)
    assert render_size(big, 1001) == (1000, 500)
    small = VideoInfo("x", 256, 128, 30.0, "30", 1, 1.0, False, "h264")
    assert render_size(small, None) == (256, 128)


def half_maps(names, hot_left):
    """Maps hot on the left half (or the right half) only."""
    maps = {}
    for name, left in zip(names, hot_left):
        m = np.zeros((240, 320), np.float32)
        if left:
            m[:, :160] = 1.0
        else:
            m[:, 160:] = 1.0
        maps[name] = m
    return maps


@pytest.mark.parametrize("audio", [True, False])
def test_overlay_video(tmp_path, audio):
    clip = make_clip(tmp_path / "c.mp4", width=256, height=128, fps=12, seconds=2, audio=audio)
    names = [f"c_{i:04d}" for i in range(0, 24, 2)]
    save_stack(tmp_path / "s.npz", half_maps(names, [k % 2 == 0 for k in range(len(names))]))
    out = render_overlay(clip, tmp_path / "s.npz", tmp_path / "o.mp4", width=200, progress=False)
    info = probe_video(out)
    assert (info.width, info.height) == (200, 100)
    assert info.frame_count == 24 and info.fps == 12 and info.has_audio == audio
    header = subprocess.run([FFMPEG, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "h264" in header and "yuv420p" in header
    # frame n shows the map of the latest sampled frame <= n: hot left for n % 4 in (0, 1)
    source = decode_opencv(clip)
    rendered = decode_opencv(out)
    lut = colormap_lut()
    cols = list(range(0, 90)) + list(range(110, 200))  # H.264 is lossy: compare away from the hot/cold edge
    for n in range(24):
        frame = cv2.resize(source[n], (200, 100), interpolation=cv2.INTER_AREA)
        errors = []
        for left_hot in (True, False):
            level = np.where(np.arange(200) < 100, 255 if left_hot else 0, 0 if left_hot else 255).astype(np.uint8)
            expected = blend(frame, lut[np.broadcast_to(level, (100, 200))], 0.5).astype(float)
            errors.append(np.abs(rendered[n].astype(float) - expected)[:, cols].mean())
        right, wrong = errors if (n // 2) % 2 == 0 else errors[::-1]
        assert right < 10 and right < wrong / 5, (n, right, wrong)


def test_overlay_interpolates(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", width=128, height=64, fps=8, seconds=1)
    save_stack(tmp_path / "s.npz", {"c_0000": np.zeros((240, 320)) + np.linspace(0, 1, 320), "c_0004": np.ones((240, 320)) - np.linspace(0, 1, 320)})
    render_overlay(clip, tmp_path / "s.npz", tmp_path / "hold.mp4", progress=False)
    render_overlay(clip, tmp_path / "s.npz", tmp_path / "lerp.mp4", interpolate=True, progress=False)
    hold, lerp = decode_opencv(tmp_path / "hold.mp4"), decode_opencv(tmp_path / "lerp.mp4")
    assert np.abs(hold[0].astype(int) - lerp[0]).mean() < 2  # same at a sampled frame
    assert np.abs(hold[2].astype(int) - lerp[2]).mean() > 10  # halfway: a flat map instead of a ramp


def test_overlay_bad_alpha(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", width=64, height=32, fps=8, seconds=1)
    save_stack(tmp_path / "s.npz", {"c_0000": np.zeros((240, 320))})
    with pytest.raises(InputError, match="alpha"):
        render_overlay(clip, tmp_path / "s.npz", tmp_path / "o.mp4", alpha=2.0, progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_cli_render_from_png_folder(tmp_path):
    import sys

    clip = make_clip(tmp_path / "c.mp4", width=128, height=64, fps=8, seconds=1)
    (tmp_path / "maps").mkdir()
    for n in range(0, 8, 1):
        cv2.imwrite(str(tmp_path / "maps" / f"c_{n:04d}.png"), np.full((240, 320), 30 * n, np.uint8))
    result = subprocess.run([sys.executable, "-m", "sstsal", "render", str(clip), "--maps", str(tmp_path / "maps"),
                             "--out", str(tmp_path / "o.mp4")], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = probe_video(tmp_path / "o.mp4")
    assert (info.width, info.height, info.frame_count) == (128, 64, 8)
