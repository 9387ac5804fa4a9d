"""Frame extraction (sstsal.media.frames): sampling, exact pixels, sizes, names, atomic output."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from videoclips import decode_opencv, make_clip, shared_dir

import sstsal.media.frames as frames_module
from sstsal.errors import InputError
from sstsal.media.frames import exact_indices, extract_frames, extraction_size, published_step, sample_indices
from sstsal.media.video import probe_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "my clip.mp4", width=256, height=128, fps=24, seconds=2)


@pytest.mark.parametrize(
    ("fps", "step"),
    [(30, 4), (29.97, 4), (25, 3), (24, 3), (12, 2), (20, 2), (60, 8), (59.94, 7), (5, 1), (2, 1)],
)
def test_published_step(fps, step):
    # round() as in the published code: half to even (12/8 = 1.5 -> 2, 20/8 = 2.5 -> 2, 59.94/8 = 7.49 -> 7)
    assert published_step(fps) == step


def test_exact_indices():
    assert exact_indices(30, 8, 30) == [0, 4, 8, 11, 15, 19, 23, 26]  # 6 * 3.75 = 22.5 rounds up
    assert exact_indices(24, 8, 10) == [0, 3, 6, 9]
    assert exact_indices(6, 8, 5) == [0, 1, 2, 3, 4]  # above the source rate: every frame once
    with pytest.raises(InputError, match="positive"):
        exact_indices(30, 0, 10)


def test_frames_equal_published_loader(clip, tmp_path):
    """Every kept frame is OpenCV's decoded frame resized with INTER_AREA, bit for bit."""
    names = extract_frames(clip, tmp_path / "frames", progress=False)
    decoded = decode_opencv(clip)
    step = published_step(24)
    assert names == [f"my clip_{i:04d}.png" for i in range(0, len(decoded), step)]
    for name in names:
        index = int(name[-8:-4])
        expected = cv2.resize(decoded[index], (320, 240), interpolation=cv2.INTER_AREA)
        assert np.array_equal(cv2.imread(str(tmp_path / "frames" / name)), expected), name


def test_flow_width_frames(clip, tmp_path):
    info = probe_video(clip)
    names = extract_frames(clip, tmp_path / "wide", size=None, width=100, progress=False)
    image = cv2.imread(str(tmp_path / "wide" / names[0]))
    assert image.shape == (50, 100, 3)
    decoded = decode_opencv(clip)[0]
    assert np.array_equal(image, cv2.resize(decoded, (100, 50), interpolation=cv2.INTER_AREA))
    assert extraction_size(info, 4096) == (256, 128)  # never upscaled
    assert extraction_size(info, None) == (256, 128)
    assert extraction_size(info, 101) == (100, 50)  # even


def test_exact_sampling_and_manifest(clip, tmp_path):
    names = extract_frames(clip, tmp_path / "f", sampling="exact", target_fps=5, manifest=tmp_path / "m.json",
                           name="v", progress=False)  # fmt: skip
    expected = exact_indices(24, 5, 48)
    assert [int(n[2:6]) for n in names] == expected
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["indices"] == expected and record["names"] == names
    assert record["sampling"] == "exact" and record["source"]["frame_count"] == 48


def test_sample_indices_unknown():
    info = frames_module.VideoInfo("x", 2, 1, 30.0, "30", 10, 1.0, False, "h264")
    with pytest.raises(InputError, match="unknown sampling"):
        sample_indices(info, "every-other")


def test_failed_extraction_leaves_nothing(clip, tmp_path, monkeypatch):
    import errno

    calls = []
    write_image = frames_module.write_image

    def failing_write(path, image):
        calls.append(path)
        if len(calls) == 3:  # the third frame cannot be written: the file system's own error
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_image(path, image)

    monkeypatch.setattr(frames_module, "write_image", failing_write)
    with pytest.raises(OSError, match="No space left on device") as raised:
        extract_frames(clip, tmp_path / "frames", progress=False)
    assert raised.value.errno == errno.ENOSPC  # told apart from a bad file (sstsal.pipeline.library.machine_fault)
    assert os.listdir(tmp_path) == []  # neither the folder nor its temporary sibling


def test_real_clip_sampling_and_pixels():
    """The shared 30 fps clip: 90 frames 0, 4, ..., 356, equal to the published loader's pixels."""
    video = shared_dir() / "videos" / "testRoom1_1920Mono.mp4"
    assert video.is_file(), f"missing shared test clip {video} (set SSTSAL_SHARED)"
    info = probe_video(video)
    assert (info.width, info.height, info.fps, info.frame_count, info.has_audio) == (1920, 960, 30.0, 360, False)
    indices = sample_indices(info)
    assert indices == list(range(0, 360, 4))
    capture = cv2.VideoCapture(str(video))
    kept = frames_module.decode_frames(video, info, indices, select_in_ffmpeg=True)
    compared = 0
    for n in range(360):
        ok, reference = capture.read()
        assert ok
        if n % 4 == 0:
            index, frame = next(kept)
            assert index == n and np.array_equal(frame, reference), n
            compared += 1
    capture.release()
    assert compared == 90


def test_cli_extract(clip, tmp_path):
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "sstsal", "extract", str(clip), "--out", str(tmp_path / "f"),
                         "--width", "128", "--name", "v"], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    files = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert files == [f"v_{i:04d}.png" for i in range(0, 48, 3)]
    assert cv2.imread(str(tmp_path / "f" / files[0])).shape == (64, 128, 3)
    bad = subprocess.run([sys.executable, "-m", "sstsal", "extract", str(tmp_path / "missing.mp4"), "--out",
                          str(tmp_path / "g")], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "missing.mp4 does not exist" in bad.stderr and not (tmp_path / "g").exists()
