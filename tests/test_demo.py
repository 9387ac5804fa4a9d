"""The demo clip (sstsal.media.demo and `sstsal demo-data`)."""

from __future__ import annotations

import subprocess
import sys

from sstsal.media.demo import DEMO_NAME, ensure_demo_data
from sstsal.media.video import probe_video


def demo_data(folder):
    return subprocess.run([sys.executable, "-m", "sstsal", "demo-data", str(folder)], capture_output=True, text=True)


def test_demo_written_only_into_a_folder_without_videos(tmp_path):
    folder = tmp_path / "videos"
    first = demo_data(folder)
    assert first.returncode == 0, first.stderr
    assert "wrote a 5-second synthetic equirectangular demo clip" in first.stderr
    assert first.stdout.strip() == '--config flow={"method":"auto"}'
    info = probe_video(folder / DEMO_NAME)
    assert info.width == 2 * info.height and info.has_audio and info.frame_count == 120
    mtime = (folder / DEMO_NAME).stat().st_mtime_ns
    again = demo_data(folder)  # the demo is still the only video: same demo settings, clip untouched
    assert again.stdout.strip() == first.stdout.strip() and "only the demo clip" in again.stderr
    assert (folder / DEMO_NAME).stat().st_mtime_ns == mtime


def test_user_videos_left_alone(tmp_path):
    (tmp_path / "mine.MOV").write_bytes(b"x")
    assert ensure_demo_data(tmp_path) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.MOV"]
    result = demo_data(tmp_path)
    assert result.stdout == "" and "not writing the demo clip" in result.stderr
