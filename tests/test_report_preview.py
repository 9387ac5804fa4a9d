"""The report's copies of a video's overlay and director's cut (sstsal.viewing.preview)."""

from __future__ import annotations

from videoclips import make_clip

from sstsal.media.video import probe_video
from sstsal.viewing.preview import report_preview


def test_a_short_video_is_shown_whole_without_a_second_copy(tmp_path):
    clip = make_clip(tmp_path / "overlay.mp4", fps=12, seconds=2, audio=True)
    out = tmp_path / "report" / "overlay.mp4"
    assert report_preview(clip, out, seconds=60, duration_s=2.0) is True
    assert out.read_bytes() == clip.read_bytes() and out.stat().st_ino == clip.stat().st_ino  # a hard link
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporaries left behind"


def test_a_long_video_is_shown_by_its_first_seconds(tmp_path):
    clip = make_clip(tmp_path / "overlay.mp4", fps=12, seconds=8, audio=True, faststart=True)
    out = tmp_path / "report" / "overlay.mp4"
    whole = probe_video(clip)
    assert report_preview(clip, out, seconds=3, duration_s=whole.frame_count / whole.fps) is False
    cut = probe_video(out)
    assert abs(cut.frame_count / cut.fps - 3) < 0.2 and cut.has_audio and (cut.width, cut.height) == (whole.width, whole.height)
    assert out.stat().st_size < clip.stat().st_size
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head, "the index is not at the front"
