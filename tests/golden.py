"""Rebuild the golden fixtures from public sources by running the published code.

    python -m tests.golden --sources DIR --out DIR [--raft-weights PATH]

``--sources`` holds what :mod:`tests.testdata` fetches: ``SST-Sal/`` and ``RAFT/`` (the
published repositories, unpacked), ``models/`` (the SST-Sal checkpoints) and ``videos/`` (the
test clip). Writes ``<out>/sstsal-golden`` and ``<out>/raft-golden`` as the README of each
fixture in this project's shared data describes them:

- sstsal-golden: the clip's frames sampled and resized as the published extraction does
  (our ``extract_frames``, shown bit-identical to it), DIS flow images (our
  ``opencv_flow_pairs`` and ``flow_image``, i.e. torchvision's ``flow_to_image``), and the
  published ``inference.py`` eval loop, run unchanged on both checkpoints;
- raft-golden: seeded random weights in the published ``raft-sintel.pth`` layout (or the
  weights ``--raft-weights`` names) and the published RAFT code's flow for two frame pairs,
  run as its ``demo.py`` does.

The published code of each repository runs in a subprocess of its own: both have a top-level
``utils`` module, and neither is importable as a package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

VIDEO = "testRoom1_1920Mono.mp4"
VIDEO_ID = "001"  # the published extraction names each video's frames after its position
GOLDEN_SIZE = (640, 320)
ROOM_FRAMES = (120, 124)
ROOM_SIZE = (512, 256)
SINTEL_FRAMES = ("frame_0016.png", "frame_0017.png")
SINTEL_SIZE = (512, 218)
RAFT_SEED = 0


# ---- sstsal-golden ------------------------------------------------------------------------------


def build_sstsal_inputs(video: Path, out: Path) -> tuple[Path, Path]:
    """``out/input/frames/001`` and ``out/input/flow/001`` from ``video``; returns both folders."""
    from sstsal.flow.engines import flow_image, opencv_flow_pairs
    from sstsal.media.frames import extract_frames

    frames_dir, flow_dir = out / "input" / "frames" / VIDEO_ID, out / "input" / "flow" / VIDEO_ID
    names = extract_frames(video, frames_dir, name=VIDEO_ID, size=GOLDEN_SIZE, progress=False)
    rgb = (np.ascontiguousarray(cv2.imread(str(frames_dir / n))[:, :, ::-1]) for n in names)
    flows = list(opencv_flow_pairs(rgb, method="dis"))
    flows.append(flows[-1])  # the last frame repeats the previous flow
    flow_dir.mkdir(parents=True, exist_ok=True)
    for name, flow in zip(names, flows, strict=True):
        cv2.imwrite(str(flow_dir / name), flow_image(flow, size=GOLDEN_SIZE))
    return frames_dir, flow_dir


def _published_sstsal(code: str, checkpoint: str, frames_root: str, flow_root: str, out: str) -> None:
    """In a subprocess: the published ``inference.eval`` on one checkpoint, the raw outputs captured."""
    sys.path.insert(0, code)
    import inference  # the published module: eval loop, data loaders, config
    import torch
    from DataLoader360Video import RGB, RGB_and_OF
    from torch.utils.data import DataLoader

    model = torch.load(checkpoint, map_location="cpu", weights_only=False)  # a whole-model pickle of the published classes
    videos = os.listdir(frames_root)
    if flow_root:
        dataset = RGB_and_OF(frames_root, flow_root, None, videos, 20, split="test", load_names=True, skip=0, inference=True)
    else:
        dataset = RGB(frames_root, None, videos, 20, split="test", load_names=True, skip=0, inference=True)
    outputs: list[torch.Tensor] = []
    model.register_forward_hook(lambda module, inputs, output: outputs.append(output.detach().cpu()))
    inference.eval(DataLoader(dataset, batch_size=1, shuffle=False), model, torch.device("cpu"), out)
    raw = {}
    for pred, sequence in zip(outputs, dataset.sequences, strict=True):
        for index in range(4, len(sequence)):  # the eval loop's frames: the first 4 are warm-up
            raw[Path(sequence[index]).stem] = pred[0, index, 0].numpy().astype(np.float32)
    np.savez(Path(out) / "raw.npz", **raw)


def build_sstsal_golden(sources: Path, out: Path) -> Path:
    """``out`` = the sstsal-golden fixture: inputs, and the published code's maps for both checkpoints."""
    frames_dir, flow_dir = build_sstsal_inputs(sources / "videos" / VIDEO, out)
    for kind, checkpoint, flow_root in [
        ("with_flow", "SST_Sal.pth", flow_dir.parent),
        ("no_flow", "SST_Sal_wo_OF.pth", None),
    ]:
        _in_subprocess(
            "_published_sstsal",
            str(sources / "SST-Sal"),
            str(sources / "models" / checkpoint),
            str(frames_dir.parent),
            str(flow_root or ""),
            str(out / "expected" / kind),
        )
    return out


# ---- raft-golden --------------------------------------------------------------------------------


def build_raft_inputs(sources: Path, out: Path) -> list[str]:
    """``out/<case>_frame1.png``, ``_frame2.png`` for the cases sintel and room; returns the cases."""
    from sstsal.media.frames import decode_frames
    from sstsal.media.video import probe_video

    out.mkdir(parents=True, exist_ok=True)
    for number, name in enumerate(SINTEL_FRAMES, start=1):
        image = cv2.imread(str(sources / "RAFT" / "demo-frames" / name))
        cv2.imwrite(str(out / f"sintel_frame{number}.png"), cv2.resize(image, SINTEL_SIZE, interpolation=cv2.INTER_AREA))
    video = sources / "videos" / VIDEO
    decoded = decode_frames(video, probe_video(video), list(ROOM_FRAMES), select_in_ffmpeg=False)
    for number, (_, frame) in enumerate(decoded, start=1):
        cv2.imwrite(str(out / f"room_frame{number}.png"), cv2.resize(frame, ROOM_SIZE, interpolation=cv2.INTER_AREA))
    return ["sintel", "room"]


def _published_raft(code: str, weights: str, seed: str, out: str, *cases: str) -> None:
    """In a subprocess: the published RAFT on each case as its demo.py does; random weights when
    ``weights`` does not exist yet (written there, in the published checkpoint's layout)."""
    sys.path.insert(0, str(Path(code) / "core"))
    import torch
    from PIL import Image
    from raft import RAFT
    from utils import flow_viz
    from utils.utils import InputPadder

    args = argparse.Namespace(small=False, mixed_precision=False, alternate_corr=False)
    if not Path(weights).is_file():
        torch.manual_seed(int(seed))
        model = torch.nn.DataParallel(RAFT(args))
        # Random biases, BatchNorm scales and running statistics too (the default init has 0 and 1
        # there), so that a wrong key mapping changes the flow.
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                if not tensor.is_floating_point():
                    continue
                norm = ".norm" in name or name.split(".")[-2].startswith("norm")
                if name.endswith("running_mean"):
                    tensor.normal_(0.0, 0.1)
                elif name.endswith("running_var") or (norm and name.endswith("weight")):
                    tensor.uniform_(0.5, 1.5)
                elif name.endswith("bias"):
                    tensor.normal_(0.0, 0.05)
        torch.save(model.state_dict(), weights)
    model = torch.nn.DataParallel(RAFT(args))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model = model.module.eval()

    def load_image(path: Path) -> torch.Tensor:  # demo.py's load_image, on the CPU
        image = np.array(Image.open(path)).astype(np.uint8)
        return torch.from_numpy(image).permute(2, 0, 1).float()[None]

    with torch.no_grad():
        for case in cases:
            image1, image2 = (load_image(Path(out) / f"{case}_frame{n}.png") for n in (1, 2))
            padder = InputPadder(image1.shape)
            image1, image2 = padder.pad(image1, image2)
            _, flow_up = model(image1, image2, iters=20, test_mode=True)
            flow = padder.unpad(flow_up)[0].permute(1, 2, 0).numpy().astype(np.float32)
            np.save(Path(out) / f"{case}_flow.npy", flow)
            Image.fromarray(flow_viz.flow_to_image(flow)).save(Path(out) / f"{case}_flow.png")


def build_raft_golden(sources: Path, out: Path, weights: Path | None = None) -> Path:
    """``out`` = the raft-golden fixture: frame pairs, ``raft-random-init.pth`` and the published flow.

    ``weights``: use this checkpoint (published layout) instead of seeded random weights.
    """
    cases = build_raft_inputs(sources, out)
    target = out / "raft-random-init.pth"
    if weights is not None:
        target.write_bytes(Path(weights).read_bytes())
    elif target.exists():
        target.unlink()  # made afresh from the seed
    _in_subprocess("_published_raft", str(sources / "RAFT"), str(target), str(RAFT_SEED), str(out), *cases)
    return out


# ---- running --------------------------------------------------------------------------------------


def _in_subprocess(function: str, *args: str) -> None:
    """Run ``function(*args)`` of this module in a fresh interpreter in an empty folder."""
    with tempfile.TemporaryDirectory(prefix="sstsal-golden-") as cwd:
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import golden; golden.{function}(*sys.argv[1:])"
        subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, check=True, env=dict(os.environ, KMP_DUPLICATE_LIB_OK="TRUE"))


def build(sources: Path, out: Path, *, raft_weights: Path | None = None) -> None:
    """Both fixtures under ``out`` (``out/sstsal-golden``, ``out/raft-golden``)."""
    build_raft_golden(sources, out / "raft-golden", raft_weights)
    build_sstsal_golden(sources, out / "sstsal-golden")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=Path, required=True, help="the fetched sources (see tests/testdata.py)")
    parser.add_argument("--out", type=Path, required=True, help="the fixtures folder to write")
    parser.add_argument("--raft-weights", type=Path, help="RAFT weights in the published layout instead of random ones")
    args = parser.parse_args()
    build(args.sources, args.out, raft_weights=args.raft_weights)


if __name__ == "__main__":
    main()
