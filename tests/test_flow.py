"""The flow stage: flow images, working size, the seam, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from testdata import data_root
from torchvision.utils import flow_to_image

from sstsal.cli import main
from sstsal.errors import InputError
from sstsal.flow import engines as flow_stage
from sstsal.flow.engines import (
    compute_flow_folder,
    flow_image,
    flow_uses_gpu,
    flow_working_size,
    opencv_flow_pairs,
    resolve_method,
)
from sstsal.flow.raft import RaftFlow, load_raft

SHARED = data_root()
GOLDEN = SHARED / "fixtures" / "raft-golden"


def golden(name: str) -> Path:
    path = GOLDEN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the shared RAFT fixture is needed (see tests/testdata.py)")
    return path


def room_rgb(width: int, height: int) -> np.ndarray:
    image = cv2.imread(str(golden("room_frame1.png")))[:, :, ::-1]
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


def write_pan(folder: Path, count: int, *, width: int = 256, height: int = 128, step: int = 5, video: str = "clip") -> Path:
    """Frames of a camera turning about the vertical axis, named like extracted frames (BGR PNGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    room = room_rgb(width, height)
    for i in range(count):
        cv2.imwrite(str(folder / f"{video}_{4 * i:04d}.png"), np.roll(room, step * i, axis=1)[:, :, ::-1])
    return folder


# ---- flow images --------------------------------------------------------------------------------


def test_flow_image_is_torchvision_colour_coding():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 5, (96, 160, 2)).astype(np.float32)
    reference = flow_to_image(torch.from_numpy(flow).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    full = flow_image(flow, size=(160, 96))
    assert np.array_equal(full[:, :, ::-1], reference)  # BGR for imwrite: the PNG has true colours
    swapped = flow_image(flow, size=(160, 96), color_order="swapped")
    assert np.array_equal(swapped, reference)  # a plain imwrite of the RGB array
    small = flow_image(flow)
    assert small.shape == (240, 320, 3) and small.dtype == np.uint8
    assert np.array_equal(small, cv2.resize(full, (320, 240), interpolation=cv2.INTER_AREA))
    with pytest.raises(InputError, match="color_order"):
        flow_image(flow, color_order="bgr")


def test_zero_flow_is_white():
    assert (flow_image(np.zeros((8, 8, 2), np.float32)) == 255).all()


@pytest.mark.parametrize(
    "frame, width, expected",
    [((1920, 960), None, (1920, 960)), ((1920, 960), 2048, (1920, 960)), ((1920, 960), 1024, (1024, 512)),
     ((640, 480), 320, (320, 240)), ((3840, 1920), 2048, (2048, 1024))],
)
def test_flow_working_size(frame, width, expected):
    assert flow_working_size(*frame, width) == expected


def test_methods(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_method("auto") == "dis"
    assert resolve_method("farneback") == "farneback"
    assert not flow_uses_gpu("raft", "auto") and not flow_uses_gpu("dis", "auto")
    with pytest.raises(InputError, match="flow method"):
        resolve_method("lucas-kanade")


# ---- the seam -------------------------------------------------------------------------------------


def test_seam_wrap_finds_motion_across_the_seam():
    """A yaw pan moves every pixel by the same amount; at the seam only wrap can see where to."""
    step = 24
    room = room_rgb(512, 256)
    frames = [room, np.ascontiguousarray(np.roll(room, step, axis=1))]
    band = np.r_[0:step, 512 - 2 * step : 512]
    errors = {}
    for seam in ("pad", "wrap"):
        (flow,) = list(opencv_flow_pairs(frames, method="dis", seam=seam))
        assert flow.shape == (256, 512, 2)
        errors[seam] = np.hypot(flow[..., 0] - step, flow[..., 1])[:, band].mean()
    assert errors["wrap"] < 0.1 < errors["pad"]
    assert errors["wrap"] < errors["pad"] / 5


# ---- the stage end to end --------------------------------------------------------------------------


@pytest.mark.slow  # RAFT-large on the CPU
def test_raft_stage_end_to_end_on_cpu(tmp_path):
    frames = write_pan(tmp_path / "frames", 3)
    out = tmp_path / "flow"
    code = main(
        ["flow", "--frames", str(frames), "--out", str(out), "--method", "raft", "--checkpoint",
         str(golden("raft-random-init.pth")), "--width", "256", "--iters", "3", "--device", "cpu",
         "--save-raw", "--raw-npy", str(tmp_path / "raw"), "--no-progress"]
    )
    assert code == 0
    names = ["clip_0000.png", "clip_0004.png", "clip_0008.png"]
    assert sorted(p.name for p in out.iterdir()) == ["clip_0000.png", "clip_0004.png", "clip_0008.png", "flow.npz"]
    images = [cv2.imread(str(out / n), cv2.IMREAD_UNCHANGED) for n in names]
    assert all(i.shape == (240, 320, 3) and i.dtype == np.uint8 for i in images)
    assert np.array_equal(images[2], images[1])  # the last frame repeats the previous flow
    raw = np.load(out / "flow.npz")
    assert sorted(raw.files) == ["clip_0000", "clip_0004", "clip_0008"]
    assert all(raw[k].dtype == np.float32 and raw[k].shape == (128, 256, 2) for k in raw.files)
    # frames already at --width, a multiple of 8: no resizing, no padding; same as the engine
    rgb = [np.ascontiguousarray(cv2.imread(str(frames / n))[:, :, ::-1]) for n in names]
    expected = list(RaftFlow(load_raft(golden("raft-random-init.pth")), iters=3).pairs(rgb))
    assert np.array_equal(raw["clip_0000"], expected[0]) and np.array_equal(raw["clip_0004"], expected[1])
    assert np.array_equal(raw["clip_0008"], expected[1])
    assert np.array_equal(images[0], flow_image(expected[0]))
    half = np.load(tmp_path / "raw" / "clip_0004.npy")
    assert half.dtype == np.float16 and np.allclose(half, expected[1], atol=0.02, rtol=1e-3)


def test_dis_stage_resizes_to_the_working_width(tmp_path):
    frames = write_pan(tmp_path / "frames", 4)
    names = compute_flow_folder(frames, tmp_path / "flow", method="dis", width=128, save_raw=True, progress=False)
    assert names == ["clip_0000.png", "clip_0004.png", "clip_0008.png", "clip_0012.png"]
    raw = np.load(tmp_path / "flow" / "flow.npz")
    assert raw["clip_0000"].shape == (64, 128, 2)
    # a 5 px pan at 256 px is 2.5 px at 128 px
    assert abs(float(np.median(raw["clip_0004"][..., 0])) - 2.5) < 0.3


def test_single_frame_gets_a_still_flow_image(tmp_path):
    frames = write_pan(tmp_path / "frames", 1)
    compute_flow_folder(frames, tmp_path / "flow", method="farneback", progress=False)
    assert (cv2.imread(str(tmp_path / "flow" / "clip_0000.png")) == 255).all()


def test_rerun_replaces_its_own_output(tmp_path):
    frames = write_pan(tmp_path / "frames", 2)
    compute_flow_folder(frames, tmp_path / "flow", method="dis", save_raw=True, progress=False)
    compute_flow_folder(frames, tmp_path / "flow", method="dis", progress=False)
    assert sorted(p.name for p in (tmp_path / "flow").iterdir()) == ["clip_0000.png", "clip_0004.png"]


def test_foreign_files_in_the_output_are_not_deleted(tmp_path):
    frames = write_pan(tmp_path / "frames", 2)
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds other files"):
        compute_flow_folder(frames, tmp_path / "flow", method="dis", progress=False)
    assert (tmp_path / "flow" / "notes.txt").read_text() == "mine"


def test_broken_frame_is_named_and_nothing_is_left(tmp_path, capsys):
    frames = write_pan(tmp_path / "frames", 3)
    data = (frames / "clip_0004.png").read_bytes()
    (frames / "clip_0004.png").write_bytes(data[: len(data) // 3])
    assert main(["flow", "--frames", str(frames), "--out", str(tmp_path / "flow"), "--method", "dis", "--no-progress"]) == 2
    assert "clip_0004.png" in capsys.readouterr().err
    assert not (tmp_path / "flow").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".flow")]  # no temporary folder left


def test_interrupted_stage_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    frames = write_pan(tmp_path / "frames", 4)
    calls = []
    original = flow_stage.flow_image

    def failing(flow, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the job were stopped after the first image
        return original(flow, **kwargs)

    monkeypatch.setattr(flow_stage, "flow_image", failing)
    with pytest.raises(KeyboardInterrupt):
        compute_flow_folder(frames, tmp_path / "flow", method="dis", progress=False)
    assert not (tmp_path / "flow").exists()


def test_missing_frames_folder(tmp_path, capsys):
    assert main(["flow", "--frames", str(tmp_path / "nope"), "--out", str(tmp_path / "flow")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_raft_with_too_small_width_says_so(tmp_path, capsys):
    frames = write_pan(tmp_path / "frames", 2)
    code = main(["flow", "--frames", str(frames), "--out", str(tmp_path / "flow"), "--width", "64", "--checkpoint",
                 str(golden("raft-random-init.pth")), "--device", "cpu", "--no-progress"])
    assert code == 2
    assert "at least 128" in capsys.readouterr().err
    assert not (tmp_path / "flow").exists()


@pytest.mark.parametrize("method", ["dis", pytest.param("raft", marks=pytest.mark.slow)])
def test_frame_ranges_give_the_whole_video_images(tmp_path, method):
    frames = write_pan(tmp_path / "frames", 5)
    options = dict(method=method, checkpoint=golden("raft-random-init.pth"), iters=2, device="cpu",
                   save_raw=True, progress=False)  # fmt: skip
    whole = tmp_path / "whole"
    compute_flow_folder(frames, whole, **options)
    reference = np.load(whole / "flow.npz")
    ranges = [(0, 2), (2, 4), (4, 5), (1, 5)] if method == "dis" else [(1, 3), (4, 5)]
    for frame_range in ranges:
        part = tmp_path / f"part{frame_range[0]}{frame_range[1]}"
        names = compute_flow_folder(frames, part, frame_range=frame_range, **options)
        assert names == [f"clip_{4 * i:04d}.png" for i in range(*frame_range)]
        raw = np.load(part / "flow.npz")
        for name in names:
            assert (part / name).read_bytes() == (whole / name).read_bytes()
            assert np.array_equal(raw[name[:-4]], reference[name[:-4]])
    with pytest.raises(InputError, match="frame range"):
        compute_flow_folder(frames, tmp_path / "bad", frame_range=(3, 9), **options)


def test_frames_of_different_sizes_are_named(tmp_path):
    frames = write_pan(tmp_path / "frames", 3)
    cv2.imwrite(str(frames / "clip_0008.png"), np.zeros((100, 200, 3), np.uint8))
    with pytest.raises(InputError, match=r"clip_0008.png is 200x100 .* one size"):
        compute_flow_folder(frames, tmp_path / "flow", method="dis", progress=False)
    assert not (tmp_path / "flow").exists()


# ---- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(method="lucas"), "flow method must be one of raft, dis, farneback or auto, not 'lucas'"),
        (dict(width=8), "flow width 8 is too small"),
        (dict(iters=0), "iters must be at least 1, not 0"),
        (dict(seam="mirror"), "seam must be one of pad, wrap, not 'mirror'"),
        (dict(seam_margin=-1), "seam margin -1 must be between 0"),
        (dict(precision="fp8"), "precision must be one of fp32, bf16, fp16, not 'fp8'"),
        (dict(batch_size=0), "batch size must be at least 1, not 0"),
        (dict(color_order="bgr"), "color_order must be one of rgb, swapped, not 'bgr'"),
    ],
)
def test_flow_settings_refuse_bad_values(change, message):
    from sstsal.flow.settings import FlowSettings

    with pytest.raises(InputError, match=message):
        FlowSettings(**change)


def test_flow_settings_from_the_cli_and_from_rule_params_agree():
    import argparse
    from types import SimpleNamespace

    from sstsal.cli import flow as flow_cli
    from sstsal.flow.settings import FlowSettings

    parser = argparse.ArgumentParser()
    flow_cli.register(parser.add_subparsers())
    args = parser.parse_args(["flow", "--frames", "f", "--out", "o", "--method", "dis", "--width", "512", "--seam", "wrap"])
    from_cli = FlowSettings.from_cli(args)
    assert from_cli == FlowSettings(method="dis", width=512, seam="wrap")
    # the flow rule's params: these names, plus some that are not settings; no checkpoint means auto
    params = SimpleNamespace(method="dis", width=512, iters=20, seam="wrap", color_order="rgb", checkpoint=None,
                             device="auto", raw_dir=None, version="flow-1")  # fmt: skip
    assert FlowSettings.from_params(params) == from_cli
    with pytest.raises(TypeError, match="not both"):
        FlowSettings.from_options(from_cli, method="raft")


def test_bad_flow_setting_fails_before_any_output(tmp_path, capsys):
    frames = write_pan(tmp_path / "frames", 2)
    assert main(["flow", "--frames", str(frames), "--out", str(tmp_path / "flow"), "--seam-margin", "-3"]) == 2
    assert "error: seam margin -3" in capsys.readouterr().err
    assert not (tmp_path / "flow").exists()
