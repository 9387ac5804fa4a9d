"""RAFT on torchvision: checkpoint mapping, the published golden flow, padding, reuse, memory."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from urllib.error import URLError

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from testdata import data_root
from torchvision.models.optical_flow import raft_large
from torchvision.utils import flow_to_image

from sstsal.errors import CheckpointError, InputError, SstsalError
from sstsal.flow import raft
from sstsal.flow.raft import (
    RaftFlow,
    convert_published_state_dict,
    equirect_padding,
    load_raft,
    plan_memory,
    published_key_to_torchvision,
    read_state_dict,
    resolve_checkpoint,
)

SHARED = data_root()
GOLDEN = SHARED / "fixtures" / "raft-golden"
GIB = 1 << 30


def golden(name: str) -> Path:
    path = GOLDEN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the shared RAFT fixture is needed (see tests/testdata.py)")
    return path


@pytest.fixture(scope="module")
def published_state() -> dict[str, torch.Tensor]:
    return torch.load(golden("raft-random-init.pth"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return load_raft(golden("raft-random-init.pth"))


def read_rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def pan_frames(count: int, width: int = 256, height: int = 128, step: int = 5) -> list[np.ndarray]:
    """An equirectangular frame turning about the vertical axis: a horizontal roll per frame."""
    room = cv2.resize(read_rgb(golden("room_frame1.png")), (width, height), interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(np.roll(room, step * i, axis=1)) for i in range(count)]


def torchvision_pair(model: torch.nn.Module, a: np.ndarray, b: np.ndarray, iters: int) -> np.ndarray:
    """Plain torchvision RAFT on one pair, inputs normalised as the published demo does."""

    def prep(x: np.ndarray) -> torch.Tensor:
        return 2 * (torch.from_numpy(x).permute(2, 0, 1).float()[None] / 255.0) - 1.0

    with torch.inference_mode():
        return model(prep(a), prep(b), num_flow_updates=iters)[-1][0].permute(1, 2, 0).numpy()


# ---- key mapping -----------------------------------------------------------------------------


def test_key_mapping_uses_every_published_key(published_state):
    expected = raft_large(weights=None).state_dict()
    assert len(published_state) == 179
    targets = {published_key_to_torchvision(k) for k in published_state}
    assert targets == set(expected)  # every published key lands somewhere, nothing is missing
    converted = convert_published_state_dict(published_state)
    assert set(converted) == set(expected)
    for key, value in published_state.items():
        assert torch.equal(converted[published_key_to_torchvision(key)], value), key
    twins = [k for k in published_state if ".norm3." in k]
    assert len(twins) == 10  # BatchNorm registered as norm3 and as downsample.1


def test_key_mapping_names():
    assert published_key_to_torchvision("module.fnet.conv1.weight") == "feature_encoder.convnormrelu.0.weight"
    assert published_key_to_torchvision("module.cnet.norm1.running_var") == "context_encoder.convnormrelu.1.running_var"
    assert published_key_to_torchvision("module.cnet.layer2.0.norm3.bias") == "context_encoder.layer2.0.downsample.1.bias"
    assert (
        published_key_to_torchvision("module.update_block.gru.convq2.weight")
        == "update_block.recurrent_block.convgru2.convq.weight"
    )
    assert published_key_to_torchvision("module.update_block.mask.2.bias") == "mask_predictor.conv.bias"


def test_twins_that_disagree_are_refused(published_state):
    state = dict(published_state)
    key = "module.cnet.layer2.0.norm3.weight"
    state[key] = state[key] + 1
    with pytest.raises(CheckpointError, match="disagree"):
        convert_published_state_dict(state)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("module.update_block.flow_head.conv2.bias"), "lacks 1"),
        (lambda s: s.__setitem__("module.fnet.extra.weight", torch.zeros(1)), "no place"),
        (lambda s: s.__setitem__("module.fnet.conv1.weight", torch.zeros(32, 3, 7, 7)), "shape"),
    ],
    ids=["missing", "unknown", "shape"],
)
def test_broken_checkpoints_are_refused(published_state, change, message):
    state = dict(published_state)
    change(state)
    with pytest.raises(CheckpointError, match=message):
        convert_published_state_dict(state)


def test_torchvision_layout_file_loads(tmp_path):
    state = raft_large(weights=None).state_dict()
    torch.save(state, tmp_path / "tv.pth")
    loaded = read_state_dict(tmp_path / "tv.pth")
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        read_state_dict(tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(tmp_path / "missing.pth")


# ---- checkpoint resolution --------------------------------------------------------------------


@pytest.fixture
def empty_model_dirs(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("SSTSAL_MODELS", str(models))
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return models


def test_local_raft_sintel_is_found(empty_model_dirs):
    with pytest.raises(CheckpointError, match="raft-sintel.pth"):
        resolve_checkpoint("raft-sintel")
    assert resolve_checkpoint("auto").kind == "torchvision"
    shutil.copy(golden("raft-random-init.pth"), empty_model_dirs / "raft-sintel.pth")
    for spec in ("auto", "raft-sintel"):
        found = resolve_checkpoint(spec)
        assert found.kind == "published" and found.path == empty_model_dirs / "raft-sintel.pth"


def test_offline_torchvision_weights_say_where_to_put_them(empty_model_dirs, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    with pytest.raises(CheckpointError) as info:
        load_raft("torchvision")
    message = str(info.value)
    assert str(raft.torchvision_weights_path()) in message and "raft_large_C_T_SKHT_V1-0b8c9e55.pth" in message


def test_corrupt_cached_torchvision_weights(empty_model_dirs):
    path = raft.torchvision_weights_path()
    path.parent.mkdir(parents=True)
    torch.save(raft_large(weights=None).state_dict(), path)  # sha256 cannot start with 0b8c9e55
    with pytest.raises(CheckpointError, match="corrupt"):
        load_raft("torchvision")


# ---- exactness against the published code ------------------------------------------------------


@pytest.mark.slow  # RAFT-large on the CPU
@pytest.mark.parametrize("case, horizontal", [("sintel", "replicate"), ("room", "wrap")])
def test_golden_flow_of_the_published_code(model, case, horizontal):
    frames = [read_rgb(golden(f"{case}_frame{i}.png")) for i in (1, 2)]
    expected = np.load(golden(f"{case}_flow.npy"))
    (flow,) = list(RaftFlow(model, iters=20, horizontal=horizontal).pairs(frames))
    assert flow.shape == expected.shape and flow.dtype == np.float32
    # sintel (512x218) is padded vertically only; both are 512 wide, a multiple of 8, so the
    # default wrap-around padding and the published replication give the same input
    assert np.abs(flow - expected).max() < 1e-3
    image = flow_to_image(torch.from_numpy(flow).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    published_png = read_rgb(golden(f"{case}_flow.png"))
    assert np.abs(image.astype(int) - published_png.astype(int)).max() <= 1


# ---- padding and the seam ------------------------------------------------------------------------


def test_padding_wraps_horizontally_and_replicates_vertically():
    images = torch.arange(2 * 3 * 13 * 21, dtype=torch.float32).reshape(2, 3, 13, 21)
    padding = equirect_padding(13, 21)
    assert (padding.left, padding.right, padding.top, padding.bottom) == (1, 2, 1, 2)
    padded = padding.pad(images)
    assert padded.shape[-2:] == (16, 24)
    core = padded[..., 1:14, :]  # the original rows
    assert torch.equal(core[..., 0], images[..., -1])  # left pad = last column (wrap-around)
    assert torch.equal(core[..., -2:], images[..., :2])  # right pad = first columns
    assert torch.equal(padded[..., 0, 1:22], images[..., 0, :])  # top row replicated
    assert torch.equal(padded[..., -1, 1:22], images[..., -1, :])
    assert torch.equal(padding.unpad(padded), images)
    replicate = equirect_padding(13, 21, horizontal="replicate").pad(images)
    assert torch.equal(replicate, F.pad(images, [1, 2, 1, 2], mode="replicate"))  # the published padder


def test_no_padding_for_multiples_of_8():
    padding = equirect_padding(128, 256)
    images = torch.rand(1, 3, 128, 256)
    assert torch.equal(padding.pad(images), images)


def test_seam_margin_is_circular_and_cropped():
    images = torch.rand(1, 3, 128, 252)
    padding = equirect_padding(128, 252, seam="wrap", seam_margin=24)
    padded = padding.pad(images)
    assert padded.shape[-1] % 8 == 0 and padded.shape[-1] == 252 + 48 + 4
    assert torch.equal(padded[..., : padding.left], images[..., -padding.left :])
    assert torch.equal(padded[..., -padding.right :], images[..., : padding.right])
    assert torch.equal(padding.unpad(padded), images)
    assert equirect_padding(1024, 2048, seam="wrap").left == 128  # default: width / 16


@pytest.mark.parametrize(
    "kwargs",
    [dict(seam="wrap", seam_margin=-8), dict(seam="wrap", seam_margin=129), dict(seam="bogus")],
)
def test_bad_seam_settings(kwargs):
    with pytest.raises(InputError):
        equirect_padding(128, 256, **kwargs)


@pytest.mark.slow  # RAFT-large on the CPU
def test_seam_wrap_equals_torchvision_on_a_wrapped_frame(model):
    frames = pan_frames(2, width=240)
    margin = 16
    (ours,) = list(RaftFlow(model, iters=3, seam="wrap", seam_margin=margin).pairs(frames))
    wide = [np.concatenate([f[:, -margin:], f, f[:, :margin]], axis=1) for f in frames]
    plain = torchvision_pair(model, wide[0], wide[1], iters=3)[:, margin:-margin]
    assert np.array_equal(ours, plain)


# ---- feature reuse and batching ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair_by_pair(model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames = pan_frames(4)
    return frames, [torchvision_pair(model, a, b, iters=5) for a, b in zip(frames[:-1], frames[1:])]


@pytest.mark.slow  # RAFT-large on the CPU
@pytest.mark.parametrize("batch_size", [1, 2])
def test_reuse_equals_pair_by_pair(model, pair_by_pair, batch_size):
    frames, plain = pair_by_pair
    engine = RaftFlow(model, iters=5, batch_size=batch_size)
    ours = list(engine.pairs(iter(frames)))
    assert len(ours) == 3
    assert engine.frames_encoded == 4  # each frame's features once (pair by pair: 6 encodings)
    for a, b in zip(ours, plain):
        assert np.array_equal(a, b)
    assert model.corr_block.corr_pyramid[0].numel() == 1  # the pyramid is not kept alive


def test_fewer_than_two_frames_give_no_flow(model):
    assert list(RaftFlow(model).pairs(pan_frames(1))) == []
    assert list(RaftFlow(model).pairs([])) == []


def test_frames_of_different_sizes(model):
    frames = pan_frames(2) + [np.zeros((128, 264, 3), np.uint8)]
    with pytest.raises(InputError, match="one size"):
        list(RaftFlow(model, iters=1).pairs(frames))


def test_frames_too_small_for_raft(model):
    with pytest.raises(InputError, match="at least 128"):
        list(RaftFlow(model).pairs([np.zeros((64, 128, 3), np.uint8)] * 2))


def test_fp16_needs_cuda(model):
    with pytest.raises(InputError, match="precision fp16 is for CUDA; on cpu use fp32 or bf16"):
        RaftFlow(model, device="cpu", precision="fp16")


def test_bf16_runs_on_cpu_with_autocast(model):
    """torch's CPU autocast runs RAFT's encoders and update block in bf16: a different, close flow."""
    frames = pan_frames(2)
    fp32 = next(RaftFlow(model, device="cpu", iters=2).pairs(frames))
    engine = RaftFlow(model, device="cpu", iters=2, precision="bf16")
    assert engine._amp_dtype == torch.bfloat16
    bf16 = next(engine.pairs(frames))
    assert bf16.shape == fp32.shape and bf16.dtype == np.float32 and np.isfinite(bf16).all()
    difference = np.abs(bf16 - fp32)
    assert difference.max() > 0  # bf16 did run
    assert np.median(difference) < 0.05 * np.abs(fp32).mean()


# ---- memory and time ----------------------------------------------------------------------------


def test_memory_estimate_at_2048x1024():
    plan = plan_memory(1024, 2048, available=80 * GIB)
    assert plan.correlation_bytes == 4 * GIB  # (256 * 128)^2 fp32 entries
    assert 5.3 * GIB < plan.per_pair < 6.5 * GIB  # with the pooled levels and the update loop
    # 80 GiB would hold ~10 pairs, but a batch's volume must stay under 2**31 elements
    # (CUDA pooling kernels index with int32; a batch of 10 crashed on an H100)
    assert plan.batch_size == 1
    assert plan_memory(512, 1024, available=80 * GIB).batch_size == 16


def test_memory_plan_refuses_volumes_the_kernels_cannot_index():
    with pytest.raises(SstsalError, match="can index"):
        plan_memory(2048, 4096, available=1024 * GIB)


def test_memory_estimate_refuses_what_cannot_fit():
    with pytest.raises(SstsalError, match=r"needs about .* GiB .* lower flow.width"):
        plan_memory(1024, 2048, available=4 * GIB)
    with pytest.raises(SstsalError, match="at most"):
        plan_memory(512, 1024, available=2 * GIB, batch_size=64)


def test_engine_refuses_before_computing(model):
    engine = RaftFlow(model, memory_budget=64 << 20)
    frames = [np.zeros((512, 1024, 3), np.uint8)] * 3
    with pytest.raises(SstsalError, match="free"):
        list(engine.pairs(frames))
    assert engine.frames_encoded == 0


@pytest.mark.slow  # RAFT-large on the CPU
def test_cpu_run_warns_with_a_time_estimate(model, caplog):
    caplog.set_level(logging.INFO, logger="sstsal")
    list(RaftFlow(model, iters=1).pairs(pan_frames(3), num_frames=3))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("slow" in m and "for 2 pairs" in m and "dis" in m for m in warnings), warnings


@pytest.mark.slow  # RAFT-large on the CPU
def test_out_of_memory_halves_the_batch(model, pair_by_pair, monkeypatch, caplog):
    frames, plain = pair_by_pair
    engine = RaftFlow(model, iters=5, batch_size=3)
    original = engine._flow_batch

    def small_gpu(images, fmaps):
        if images.shape[0] > 2:  # more than one pair
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(images, fmaps)

    monkeypatch.setattr(engine, "_flow_batch", small_gpu)
    caplog.set_level(logging.WARNING, logger="sstsal")
    ours = list(engine.pairs(frames))
    assert engine.plan.batch_size == 1 and "continuing with 1 pair" in caplog.text
    assert all(np.array_equal(a, b) for a, b in zip(ours, plain))

    def no_gpu(images, fmaps):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    engine = RaftFlow(model, iters=5, batch_size=2)
    monkeypatch.setattr(engine, "_flow_batch", no_gpu)
    with pytest.raises(SstsalError, match="single RAFT pair"):
        list(engine.pairs(frames))


# ---- the network: torchvision's RAFT with shared encodings ---------------------------------------


def test_own_grid_and_upsampling_equal_torchvision():
    from torchvision.models.optical_flow import _utils  # private: only to compare against

    assert torch.equal(raft.coords_grid(3, 5, 7, torch.device("cpu")), _utils.make_coords_grid(3, 5, 7))
    generator = torch.Generator().manual_seed(0)
    flow = torch.randn(2, 2, 4, 6, generator=generator)
    up_mask = torch.randn(2, 9 * 64, 4, 6, generator=generator)
    assert torch.equal(raft.convex_upsample(flow, up_mask), _utils.upsample_flow(flow, up_mask))


@pytest.mark.slow  # RAFT-large on the CPU
def test_video_raft_shares_the_modules_and_equals_forward(model):
    plain = raft_large(weights=None)
    video = raft.VideoRAFT.from_raft(plain)
    assert video.feature_encoder is plain.feature_encoder and video.update_block is plain.update_block
    assert video.state_dict().keys() == plain.state_dict().keys()
    assert raft.VideoRAFT.from_raft(model) is model  # load_raft gives one already
    frames = pan_frames(3)
    images = torch.stack([2 * (torch.from_numpy(f).permute(2, 0, 1).float() / 255.0) - 1.0 for f in frames])
    with torch.inference_mode():
        flows = model.consecutive_flow(images, model.encode_features(images), num_flow_updates=2)
        pairwise = [model(images[i : i + 1], images[i + 1 : i + 2], num_flow_updates=2)[-1][0] for i in range(2)]
    assert flows.shape == (2, 2, 128, 256)
    for ours, theirs in zip(flows, pairwise):
        assert torch.equal(ours, theirs)
