"""The fast tier's check against the published code: the first inference window of the golden clip.

The full comparison (all 90 frames, both checkpoints) is in tests/test_inference.py and runs in
``make test``; this one keeps a golden check in ``make test-fast``. A 20-frame folder is one
window, [0, 20), the published code's first: its maps 4..19 are the published ones.
"""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from sstsal.model.predictor import predict_folder
from tests.conftest import shared_path

GOLDEN = "fixtures/sstsal-golden"


@pytest.mark.parametrize("kind,no_flow", [("with_flow", False), ("no_flow", True)])
def test_first_window_equals_the_published_code(tmp_path, kind, no_flow):
    names = sorted(p.name for p in shared_path(f"{GOLDEN}/input/frames/001").glob("*.png"))[:20]
    for part in ("frames", "flow"):
        (tmp_path / part).mkdir()
        for name in names:
            shutil.copy(shared_path(f"{GOLDEN}/input/{part}/001/{name}"), tmp_path / part / name)
    out = tmp_path / "maps"
    raw = predict_folder(tmp_path / "frames", out, flow_dir=None if no_flow else tmp_path / "flow", no_flow=no_flow,
                         device="cpu", save_raw=True, progress=False)  # fmt: skip
    expected = np.load(shared_path(f"{GOLDEN}/expected/{kind}/raw.npz"))
    stems = [n[:-4] for n in names[4:]]
    assert all(stem in expected.files for stem in stems)
    for stem in stems:
        assert np.abs(raw[stem] - expected[stem]).max() <= 1e-4, stem
        ours = cv2.imread(str(out / f"{stem}.png"), cv2.IMREAD_GRAYSCALE).astype(int)
        theirs = cv2.imread(str(shared_path(f"{GOLDEN}/expected/{kind}/001/{stem}.png")), cv2.IMREAD_GRAYSCALE)
        assert np.abs(ours - theirs).max() <= 1, stem
