"""provenance.json states what ran: the settings objects the stages used (RAFT in bf16 here), the
device each resolved, the weights each loaded, for a whole-video run and a chunked one.

Tiny runs: RAFT on the CPU with the RAFT golden fixture's random weights (2 iterations, bf16
autocast), SST-Sal on the CPU, a 2 s clip at 256x128, no director's cut or viewer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from clip_workflow import REPO, VIDEO, snakemake
from videoclips import make_clip, shared_dir

from sstsal.pipeline.provenance import StageRecord, device_facts, gather

pytestmark = pytest.mark.slow


def raft_weights() -> Path:
    path = shared_dir() / "fixtures" / "raft-golden" / "raft-random-init.pth"
    if not path.is_file():
        raise AssertionError(f"missing {path}: set SSTSAL_SHARED to ../shared")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bf16_config(chunk_frames: int) -> dict:
    return {
        "videos": "videos",
        "chunk_frames": chunk_frames,
        "flow": {"method": "raft", "width": 256, "iters": 2, "precision": "bf16", "raft_checkpoint": str(raft_weights())},
        "model": {"device": "cpu"},
        "render": {"width": 128, "preset": "ultrafast"},
        "summary": {"frames": 2},
        "director": {"enabled": False},
        "viewer": {"enabled": False},
    }


@pytest.fixture(scope="module", params=[0, 8], ids=["whole", "chunked"])
def run(request, tmp_path_factory) -> tuple[Path, dict, int]:
    """A finished run: (work folder, its provenance.json, chunk_frames)."""
    root = tmp_path_factory.mktemp(f"provenance-{request.param}")
    make_clip(root / "videos" / f"{VIDEO}.mp4", width=256, height=128, fps=8, seconds=2.0)
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(bf16_config(request.param)))
    snakemake(root, "--cores", "2")
    data = json.loads((root / "results" / VIDEO / "provenance.json").read_text())
    return root, data, request.param


def frame_count(root: Path) -> int:
    return len(list((root / "results" / VIDEO / "frames").glob("*.png")))


def test_flow_states_bf16_raft_with_the_weights_it_loaded(run):
    root, data, chunk_frames = run
    flow = data["flow"]
    weights = raft_weights()
    assert flow["method_requested"] == "raft" and flow["method"] == "raft"
    assert flow["precision"] == "bf16"  # was written as fp32 whatever flow.precision said
    assert flow["engine"] == "torchvision raft_large"
    assert flow["weights"] == {"kind": "file", "description": f"RAFT checkpoint {weights}", "path": str(weights),
                               "sha256": sha256(weights)}  # fmt: skip
    assert flow["settings"] == {
        "kind": "FlowSettings", "method": "raft", "checkpoint": str(weights), "width": 256, "iters": 2, "seam": "pad",
        "seam_margin": None, "device": "cpu", "precision": "bf16", "batch_size": None, "color_order": "rgb",
    }  # fmt: skip
    assert flow["device"] == "cpu" and flow["cpu"] and flow["cpu_threads"] >= 1
    assert "gpu" not in flow and "gpu_pool" not in flow


def test_inference_states_its_settings_checkpoint_and_device(run):
    root, data, chunk_frames = run
    checkpoint = shared_dir() / "models" / "SST_Sal.pth"
    model = data["inference"]
    assert model["settings"] == {"kind": "InferenceSettings", "checkpoint": str(checkpoint), "no_flow": False,
                                 "device": "cpu", "batch_size": None}  # fmt: skip
    assert model["checkpoint"] == {"path": str(checkpoint), "sha256": sha256(checkpoint)}
    assert model["with_flow"] is True and model["device"] == "cpu" and model["cpu_threads"] >= 1
    assert model["batch_size"] == 2  # what the predictor chose on the CPU (batch_size null)
    assert model["frames"] == frame_count(root) == 16


def test_checkpoints_software_settings_stages_and_warnings(run):
    root, data, chunk_frames = run
    weights, checkpoint = raft_weights(), shared_dir() / "models" / "SST_Sal.pth"
    assert data["video"] == VIDEO and data["source"].endswith(f"{VIDEO}.mp4")
    assert data["checkpoints"] == [
        {"role": "RAFT", "path": str(weights), "sha256": sha256(weights)},
        {"role": "SST-Sal", "path": str(checkpoint), "sha256": sha256(checkpoint)},
    ]
    software = data["software"]
    for key in ("sstsal", "python", "torch", "torchvision", "snakemake", "opencv", "numpy", "imageio-ffmpeg", "ffmpeg"):
        assert software[key], key
    assert software["torch"] == torch.__version__.split("+")[0] or software["torch"] == torch.__version__
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert software["git"]["commit"] == head
    assert data["software_per_stage"] is None  # one installation ran every stage
    rules = {"probe", "extract_frames", "extract_flow_frames", "validate", "render", "summary", "tiles"}
    rules |= {"gather_flow", "gather_saliency"} if chunk_frames else {"flow", "inference"}
    assert set(data["stages"]) == rules and set(data["settings"]) == rules
    for times in data["stages"].values():
        assert times["started"] <= times["finished"] and times["seconds"] >= 0 and times["host"]
    flow_rule = "gather_flow" if chunk_frames else "flow"
    assert data["settings"][flow_rule]["precision"] == "bf16" and data["settings"][flow_rule]["iters"] == 2
    assert data["config"]["flow"]["precision"] == "bf16" and data["config"]["chunk_frames"] == chunk_frames
    assert data["director"] is None  # switched off
    # 16 sampled frames: fewer than the model's 20-frame window, said once
    assert [w for w in data["warnings"] if "fewer than the model's 20-frame window" in w] == [
        f"{'gather_saliency' if chunk_frames else 'inference'}: only 16 sampled frames (fewer than the model's "
        "20-frame window): its maps have little temporal context, the first ones almost none; treat them with care"
    ]


def test_chunked_run_states_each_chunk(run):
    root, data, chunk_frames = run
    if not chunk_frames:
        assert "chunks" not in data["flow"] and "chunks" not in data["inference"]
        return
    for section in (data["flow"], data["inference"]):
        chunks = section["chunks"]
        assert [c["chunk"] for c in chunks] == ["000000-000008", "000008-000016"]
        for index, chunk in enumerate(chunks):
            assert chunk["device"] == "cpu" and chunk["gpu"] is None and chunk["host"]
            assert chunk["started"] <= chunk["finished"] and chunk["seconds"] >= 0
            # the warnings each chunk's log holds: RAFT on a CPU is slow (every flow chunk); the video
            # is shorter than a window (the first inference chunk, which starts the video)
            if section is data["flow"]:
                assert [w[:16] for w in chunk["warnings"]] == ["RAFT runs on CPU"], chunk["warnings"]
            else:
                assert len(chunk["warnings"]) == (index == 0), chunk["warnings"]
                assert all("fewer than the model's 20-frame window" in w for w in chunk["warnings"])


# The parts, without a workflow run.


def test_a_record_resolves_its_device_once_and_states_the_settings_it_used():
    from sstsal.flow.settings import FlowSettings

    record = StageRecord("flow", {"device": "auto"}, requested_device="auto")
    assert record.device is record.device  # resolved once, then kept
    settings = record.used(FlowSettings(method="raft", precision="bf16").on(str(record.device)))
    record.ran_on(record.device)
    assert record.facts["settings"]["precision"] == "bf16" and record.facts["settings"]["kind"] == "FlowSettings"
    assert record.facts["device"] == str(record.device) == settings.device


def test_device_facts_resolve_nothing():
    assert device_facts(torch.device("cpu"))["device"] == "cpu"
    with pytest.raises(RuntimeError):
        device_facts("auto")  # a setting, not a device: the job resolves it, provenance does not


def test_gather_takes_method_and_precision_from_the_settings_recorded(tmp_path):
    facts = {"settings": {"kind": "FlowSettings", "method": "raft", "precision": "bf16"}, "engine": "torchvision raft_large",
             "weights": None, "device": "cuda:0", "gpu": "a GPU", "video_codec": "h264"}  # fmt: skip
    record = {"rule": "flow", "started": "1", "finished": "2", "seconds": 1.0, "host": "h", "params": {"precision": "fp32"},
              "facts": facts, "warnings": ["w"], "software": {"sstsal": "x"}}  # fmt: skip
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(record))
    data = gather([path], video="v", config={"flow": {"method": "auto"}}, source=None)
    assert data["flow"]["precision"] == "bf16" and data["flow"]["method"] == "raft"
    assert data["flow"]["video_codec"] == "h264"  # any fact a stage adds reaches provenance.json
    assert data["flow"]["method_requested"] == "auto" and data["warnings"] == ["flow: w"]
