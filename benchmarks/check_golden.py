"""Compare ``predict_folder`` with the golden outputs of the published code on any device.

    python benchmarks/check_golden.py --device cuda

The fixtures come from the tests' data folder (tests/testdata.py: SSTSAL_SHARED, or built once
from the published sources).

Prints, for both checkpoints, the largest raw and PNG differences over the 80 frames the
published code predicts, and the time taken. (The test suite checks the same on CPU.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from sstsal.model.predictor import predict_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testdata import data_root  # noqa: E402  (the tests' resolver of test data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args()
    golden = data_root() / "fixtures" / "sstsal-golden"
    os.environ.setdefault("SSTSAL_MODELS", str(golden.parent.parent / "models"))
    for kind, no_flow in [("with_flow", False), ("no_flow", True)]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "maps"
            start = time.perf_counter()
            raw = predict_folder(
                golden / "input/frames/001",
                out,
                flow_dir=None if no_flow else golden / "input/flow/001",
                no_flow=no_flow,
                device=args.device,
                batch_size=args.batch_size,
                progress=False,
            )
            elapsed = time.perf_counter() - start
            expected = np.load(golden / "expected" / kind / "raw.npz")
            raw_diff = max(float(np.abs(raw[k] - expected[k]).max()) for k in expected.files)
            png_diff = max(
                int(np.abs(cv2.imread(str(out / f"{k}.png"), 0).astype(int) - cv2.imread(str(golden / "expected" / kind / "001" / f"{k}.png"), 0).astype(int)).max())
                for k in expected.files
            )
        print(f"{kind:9s} device={args.device} frames={len(raw)} raw max|diff|={raw_diff:.2e} png max|diff|={png_diff} time={elapsed:.1f}s")


if __name__ == "__main__":
    main()
