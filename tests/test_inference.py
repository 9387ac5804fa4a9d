"""Inference over a video's frames: golden maps of the published code, every frame, errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sstsal.model.predictor import WARMUP, Window, plan_windows, predict_folder, warmup_frames, warmup_names
from tests.conftest import shared_path

GOLDEN = "fixtures/sstsal-golden"


def test_plan_reproduces_published_windows_and_covers_every_frame():
    plan = plan_windows(90)
    published = [w for w in plan if w.stop <= 84]
    assert [(w.start, w.stop) for w in published] == [(0, 20), (16, 36), (32, 52), (48, 68), (64, 84)]
    assert [w.keep_from for w in published] == [0, 20, 36, 52, 68]
    assert plan[-1] == Window(70, 90, 84)
    for n in [1, 7, 19, 20, 21, 36, 37, 84, 85, 90, 500]:
        covered = [i for w in plan_windows(n) for i in range(w.keep_from, w.stop)]
        assert covered == list(range(n)), n
        assert all(w.stop - w.start == min(n, 20) for w in plan_windows(n))
        # kept outputs after the first window are never warm-up outputs
        assert all(w.keep_from - w.start >= 4 for w in plan_windows(n)[1:])
        # warm-up frames: exactly the kept outputs fewer than WARMUP frames into their window
        early = [i for w in plan_windows(n) for i in range(w.keep_from, w.stop) if i - w.start < WARMUP]
        assert list(warmup_frames(n)) == early == list(range(min(n, 4))), n


def test_warmup_names_are_the_first_frames_of_the_video():
    names = [f"v_{i:04d}" for i in range(0, 40, 4)]
    assert warmup_names(names[::-1]) == ["v_0000", "v_0004", "v_0008", "v_0012"]
    assert warmup_names(names[:2]) == ["v_0000", "v_0004"]


@pytest.mark.slow  # the whole golden clip; tests/test_golden_quick.py is the fast tier's check
@pytest.mark.parametrize("kind,no_flow", [("with_flow", False), ("no_flow", True)])
def test_golden_maps_of_the_published_code(tmp_path, kind, no_flow):
    frames = shared_path(f"{GOLDEN}/input/frames/001")
    flow = shared_path(f"{GOLDEN}/input/flow/001")
    expected_dir = shared_path(f"{GOLDEN}/expected/{kind}")
    out = tmp_path / "maps"
    raw = predict_folder(frames, out, flow_dir=None if no_flow else flow, no_flow=no_flow, device="cpu", save_raw=True, progress=False)

    expected = np.load(expected_dir / "raw.npz")
    assert len(expected.files) == 80
    for name in expected.files:
        assert np.abs(raw[name] - expected[name]).max() <= 1e-4, name
        ours = cv2.imread(str(out / f"{name}.png"), cv2.IMREAD_GRAYSCALE).astype(int)
        theirs = cv2.imread(str(expected_dir / "001" / f"{name}.png"), cv2.IMREAD_GRAYSCALE).astype(int)
        assert np.abs(ours - theirs).max() <= 1, name
    # every frame gets a map, including 0-3 and the tail the published code leaves out
    names = sorted(p.name for p in frames.iterdir())
    assert sorted(p.name for p in out.glob("*.png")) == names
    assert set(np.load(out / "raw.npz").files) == {n[:-4] for n in names}
    for extra in ["001_0000", "001_0012", "001_0336", "001_0356"]:
        assert extra not in expected.files and np.ptp(raw[extra]) > 0


@pytest.mark.slow  # the whole golden clip; tests/test_golden_quick.py is the fast tier's check
def test_frame_range_is_bit_identical_to_a_whole_run(tmp_path):
    frames = shared_path(f"{GOLDEN}/input/frames/001")
    whole = predict_folder(frames, tmp_path / "whole", no_flow=True, device="cpu", progress=False)
    names = sorted(whole)
    parts: dict[str, np.ndarray] = {}
    # boundaries inside windows, in the overlaps, and at the tail window
    for start, stop in [(2, 30), (30, 51), (81, 90)]:
        parts.update(predict_folder(frames, tmp_path / f"p{start}", no_flow=True, device="cpu", progress=False, frame_range=(start, stop)))
        assert len(list((tmp_path / f"p{start}").glob("*.png"))) == stop - start
    assert sorted(parts) == names[2:51] + names[81:]
    for name in parts:
        assert np.array_equal(parts[name], whole[name]), name


def test_short_video_gets_a_map_for_every_frame(tmp_path):
    frames = shared_path(f"{GOLDEN}/input/frames/001")
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted(frames.iterdir())[:7]:
        shutil.copy(p, few / p.name)
    raw = predict_folder(few, tmp_path / "out", no_flow=True, device="cpu", progress=False)
    assert len(raw) == 7 and len(list((tmp_path / "out").glob("*.png"))) == 7


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sstsal", *args], capture_output=True, text=True)


@pytest.fixture()
def frame_set(tmp_path) -> tuple[Path, Path]:
    """A small valid set: 5 frames and flow images."""
    frames, flow = tmp_path / "frames", tmp_path / "flow"
    frames.mkdir()
    flow.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(frames / f"vid_{i * 4:04d}.png"), rng.integers(0, 255, (120, 240, 3), dtype=np.uint8))
        cv2.imwrite(str(flow / f"vid_{i * 4:04d}.png"), rng.integers(0, 255, (120, 240, 3), dtype=np.uint8))
    return frames, flow


@pytest.mark.slow  # whole predict runs through the CLI
def test_cli_predict_writes_every_frame(frame_set, tmp_path):
    frames, flow = frame_set
    result = _cli("predict", "--frames", str(frames), "--flow", str(flow), "--out", str(tmp_path / "out"), "--save-raw")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([p.name for p in frames.iterdir()] + ["raw.npz"])
    raw = np.load(tmp_path / "out" / "raw.npz")
    assert raw["vid_0008"].shape == (240, 320) and raw["vid_0008"].dtype == np.float32


def _break(kind: str, frames: Path, flow: Path, tmp_path: Path) -> tuple[list[str], str]:
    args = ["--frames", str(frames), "--flow", str(flow)]
    if kind == "empty":
        empty = tmp_path / "empty"
        empty.mkdir()
        return ["--frames", str(empty), "--flow", str(flow)], "is empty"
    if kind == "bad_name":
        shutil.copy(frames / "vid_0000.png", frames / "frame one.png")
        return args, "frame one.png"
    if kind == "missing_flow":
        (flow / "vid_0008.png").unlink()
        return args, "vid_0008.png"
    if kind == "truncated":
        data = (frames / "vid_0004.png").read_bytes()
        (frames / "vid_0004.png").write_bytes(data[: len(data) // 2])
        return args, "vid_0004.png"
    if kind == "sizes":
        cv2.imwrite(str(frames / "vid_0012.png"), np.zeros((100, 200, 3), np.uint8))
        return args, "different sizes"
    if kind == "architecture":
        return args + ["--checkpoint", str(shared_path("models/SST_Sal_wo_OF.pth"))], "input channels"
    if kind == "no_flow_arg":
        return ["--frames", str(frames)], "--no-flow"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["empty", "bad_name", "missing_flow", "truncated", "sizes", "architecture", "no_flow_arg"])
def test_cli_errors_are_clear_and_leave_no_output(frame_set, tmp_path, kind):
    frames, flow = frame_set
    args, message = _break(kind, frames, flow, tmp_path)
    out = tmp_path / "out"
    result = _cli("predict", *args, "--out", str(out))
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in result.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("layout", ["project", "cwd"])
def test_predict_refuses_an_output_folder_with_other_content(frame_set, tmp_path, layout):
    frames, flow = frame_set
    (tmp_path / "notes.txt").write_text("keep me")
    out = tmp_path if layout == "project" else Path(".")
    result = subprocess.run(
        [sys.executable, "-m", "sstsal", "predict", "--frames", str(frames), "--flow", str(flow), "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 2 and "refusing" in result.stderr, result.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert len(list(frames.iterdir())) == 5


@pytest.mark.slow  # whole predict runs through the CLI
def test_predict_replaces_its_own_earlier_output(frame_set, tmp_path):
    frames, flow = frame_set
    out = tmp_path / "out"
    for _ in range(2):
        result = _cli("predict", "--frames", str(frames), "--flow", str(flow), "--out", str(out), "--save-raw")
        assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.png"))) == 5


def test_inference_settings_from_the_cli_and_rule_params():
    import argparse
    from types import SimpleNamespace

    from sstsal.cli import predict as predict_cli
    from sstsal.errors import InputError
    from sstsal.model.settings import InferenceSettings

    parser = argparse.ArgumentParser()
    predict_cli.register(parser.add_subparsers())
    args = parser.parse_args(["predict", "--frames", "f", "--out", "o", "--no-flow", "--batch-size", "3"])
    settings = InferenceSettings.from_cli(args)
    assert settings == InferenceSettings(no_flow=True, batch_size=3) and not settings.uses_flow
    params = SimpleNamespace(no_flow=True, checkpoint="", device="auto", batch_size=3, version="inference-1")
    assert InferenceSettings.from_params(params) == settings  # an empty checkpoint is the published one
    with pytest.raises(InputError, match="batch size must be at least 1, got 0"):
        InferenceSettings(batch_size=0)


def test_one_predictor_for_several_folders_equals_predict_folder(tmp_path, monkeypatch):
    from sstsal.model.predictor import SaliencyPredictor
    from sstsal.model.settings import InferenceSettings

    monkeypatch.setenv("SSTSAL_MODELS", str(shared_path("models")))
    frames = shared_path(f"{GOLDEN}/input/frames/001")
    short = tmp_path / "short"
    short.mkdir()
    for p in sorted(frames.iterdir())[:7]:
        shutil.copy(p, short / p.name)
    settings = InferenceSettings(no_flow=True, device="cpu")
    predictor = SaliencyPredictor.from_settings(settings)
    assert predictor.model.input_channels == 3 and not predictor.uses_flow
    first = predictor.predict_folder(short, tmp_path / "a", progress=False)
    second = predictor.predict_folder(short, tmp_path / "b", progress=False, frame_range=(2, 5))
    reference = predict_folder(short, tmp_path / "ref", settings, progress=False)
    assert sorted(first) == sorted(reference) and len(first) == 7 and sorted(second) == sorted(first)[2:5]
    for name in first:
        assert np.array_equal(first[name], reference[name]), name
    for name in second:
        assert np.array_equal(second[name], reference[name]), name
    written = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    assert written == {p.name: p.read_bytes() for p in (tmp_path / "ref").iterdir()}
