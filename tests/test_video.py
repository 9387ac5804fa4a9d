"""Video discovery and probing (sstsal.media.video) on small generated clips."""

from __future__ import annotations

from fractions import Fraction

import pytest
from videoclips import make_audio_only, make_clip, truncate

from sstsal.errors import InputError
from sstsal.media.video import VideoInfo, discover_videos, exact_rate, probe_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "a.mp4", width=256, height=128, fps=12, seconds=2, audio=True)


def test_discover_suffixes_any_case_and_odd_stems(tmp_path):
    names = ["Room Tour.MP4", "b.mov", "c.v2.mkv", "café_ñ.WebM", "e.avi", "f.M4V"]
    for name in names + ["notes.txt", ".hidden.mp4", "thumb.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.mp4").mkdir()  # a folder named like a video is not a video
    found = discover_videos(tmp_path)
    assert sorted(found) == sorted(["Room Tour", "b", "c.v2", "café_ñ", "e", "f"])
    assert found["Room Tour"].name == "Room Tour.MP4"


def test_discover_duplicate_stems_named(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "clip.MOV").write_bytes(b"x")
    (tmp_path / "other.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match=r"clip\.MOV and clip\.mp4"):
        discover_videos(tmp_path)


@pytest.mark.parametrize("make", ["empty", "missing", "only_other_files"])
def test_discover_no_videos(tmp_path, make):
    folder = tmp_path / "videos"
    if make != "missing":
        folder.mkdir()
    if make == "only_other_files":
        (folder / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="does not exist" if make == "missing" else "no videos in"):
        discover_videos(folder)


def test_probe_clip(clip):
    info = probe_video(clip)
    assert (info.width, info.height) == (256, 128)
    assert info.fps == 12 and info.rate == "12"
    assert info.frame_count == 24
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.has_audio
    assert info.codec == "h264"
    assert info.aspect_warning is None


def test_probe_roundtrips_json(clip, tmp_path):
    info = probe_video(clip)
    (tmp_path / "v.json").write_text(info.to_json())
    assert VideoInfo.from_json(tmp_path / "v.json") == info


def test_probe_no_audio_and_aspect_warning(tmp_path):
    info = probe_video(make_clip(tmp_path / "square.mp4", width=160, height=120, seconds=1))
    assert not info.has_audio
    assert "not 2:1" in info.aspect_warning and "square.mp4" in info.aspect_warning


def test_probe_truncated_named(tmp_path):
    good = make_clip(tmp_path / "good.mp4", seconds=2, faststart=True)  # index first: truncation loses frames
    bad = truncate(good, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(InputError, match=r"cut\.mp4 is truncated or corrupt"):
        probe_video(bad)


def test_probe_truncated_index_at_end(tmp_path):
    good = make_clip(tmp_path / "good.mp4", seconds=2)  # index at the end: truncation loses it
    bad = truncate(good, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(InputError, match=r"cannot read video .*cut\.mp4"):
        probe_video(bad)


def test_probe_not_a_video(tmp_path):
    (tmp_path / "fake.mp4").write_text("this is not a video")
    with pytest.raises(InputError, match=r"cannot read video .*fake\.mp4"):
        probe_video(tmp_path / "fake.mp4")


def test_probe_audio_only(tmp_path):
    with pytest.raises(InputError, match=r"tone\.mp4 has no video stream"):
        probe_video(make_audio_only(tmp_path / "tone.mp4"))


def test_exact_rate():
    assert exact_rate(29.97) == Fraction(30000, 1001)
    assert exact_rate(23.98) == Fraction(24000, 1001)
    assert exact_rate(59.94) == Fraction(60000, 1001)
    assert exact_rate(30.0) == 30
    assert exact_rate(12.5) == Fraction(25, 2)
