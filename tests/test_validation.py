"""Naming validation (sstsal.pipeline.validation and `sstsal validate`): consistent frame/flow sets."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from sstsal.errors import InputError
from sstsal.pipeline.validation import validate_frame_set


def write_set(folder, numbers, size=(320, 240), video="v"):
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        cv2.imwrite(str(folder / f"{video}_{n:04d}.png"), np.full((size[1], size[0], 3), n % 255, np.uint8))
    return folder


@pytest.fixture
def good(tmp_path):
    numbers = range(0, 40, 4)
    return write_set(tmp_path / "frames", numbers), write_set(tmp_path / "flow", numbers)


def test_consistent_set(good):
    report = validate_frame_set(*good)
    assert report["ok"] and report["count"] == 10 and report["step"] == 4
    assert (report["first"], report["last"], report["video"]) == (0, 36, "v")
    assert report["frame_size"] == [320, 240] and report["flow_size"] == [320, 240]


def test_gap_named(good):
    frames, flow = good
    (frames / "v_0012.png").unlink()
    (flow / "v_0012.png").unlink()
    with pytest.raises(InputError, match=r"expected step of 4.*v_0016\.png follows v_0008\.png"):
        validate_frame_set(frames, flow)


def test_expected_numbers(good):
    frames, _ = good
    with pytest.raises(InputError, match=r"missing in .*: 40"):
        validate_frame_set(frames, expected_numbers=list(range(0, 44, 4)))
    assert validate_frame_set(frames, expected_numbers=list(range(0, 40, 4)))["count"] == 10


def test_bad_name_and_mixed_videos(good):
    frames, _ = good
    (frames / "frame12.png").write_bytes(b"x")
    write_set(frames, [40], video="w")
    with pytest.raises(InputError) as info:
        validate_frame_set(frames)
    assert "frame12.png" in str(info.value) and "mixes frames of several videos (v, w)" in str(info.value)


def test_flow_missing_and_stray(good):
    frames, flow = good
    (flow / "v_0020.png").unlink()
    write_set(flow, [99])
    with pytest.raises(InputError) as info:
        validate_frame_set(frames, flow)
    assert "no flow image of the same name" in str(info.value) and "v_0020.png" in str(info.value)
    assert "have no frame of the same name" in str(info.value) and "v_0099.png" in str(info.value)


def test_truncated_png_named(good):
    frames, flow = good
    data = (flow / "v_0008.png").read_bytes()
    (flow / "v_0008.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"unreadable or truncated flow PNG.*v_0008\.png"):
        validate_frame_set(frames, flow)


def test_odd_size_named(good):
    frames, flow = good
    write_set(frames, [16], size=(160, 120))
    with pytest.raises(InputError, match=r"different sizes \(most are 320x240\): v_0016\.png \(160x120\)"):
        validate_frame_set(frames, flow)


def test_missing_and_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="is empty"):
        validate_frame_set(tmp_path / "empty")
    with pytest.raises(InputError, match="does not exist"):
        validate_frame_set(tmp_path / "nope")


def test_cli(good, tmp_path):
    frames, flow = good
    ok = subprocess.run([sys.executable, "-m", "sstsal", "validate", "--frames", str(frames), "--flow", str(flow),
                         "--json", str(tmp_path / "r.json")], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "r.json").read_text())["count"] == 10
    (flow / "v_0036.png").unlink()
    bad = subprocess.run([sys.executable, "-m", "sstsal", "validate", "--frames", str(frames), "--flow", str(flow)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2
    assert "error:" in bad.stderr and "v_0036.png" in bad.stderr
