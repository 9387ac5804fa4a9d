"""Summary (sstsal.viewing.summary): salient directions and the contact sheet."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from sstsal.media.saliency_stack import load_stack, read_warmup, save_stack
from sstsal.viewing.summary import contact_sheet, salient_direction, write_directions


@pytest.mark.parametrize(
    ("x", "y", "yaw", "pitch"),
    [(160, 120, 0.5625, -0.375), (0, 0, -179.4375, 89.625), (319, 239, 179.4375, -89.625), (80, 60, -89.4375, 44.625)],
)
def test_salient_direction(x, y, yaw, pitch):
    saliency = np.zeros((240, 320), np.float32)
    saliency[y, x] = 1.0
    got = salient_direction(saliency)
    assert got[2:] == (x, y)
    assert got[0] == pytest.approx(yaw) and got[1] == pytest.approx(pitch)


def test_stack_roundtrip_sorted_float16(tmp_path):
    maps = {f"v_{n:04d}": np.full((240, 320), n, np.float32) for n in (8, 0, 4)}
    save_stack(tmp_path / "s.npz", maps)
    stack, names = load_stack(tmp_path / "s.npz")
    assert names == ["v_0000", "v_0004", "v_0008"] and stack.dtype == np.float16 and stack.shape == (3, 240, 320)
    assert stack[2, 0, 0] == 8


def test_directions_csv(tmp_path):
    maps = {}
    for k, n in enumerate(range(0, 12, 4)):
        m = np.zeros((240, 320), np.float32)
        m[120, 40 + 100 * k] = 1
        maps[f"v_{n:04d}"] = m
    save_stack(tmp_path / "s.npz", maps)
    write_directions(tmp_path / "s.npz", tmp_path / "d.csv", fps=8.0)
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert [r["frame"] for r in rows] == ["v_0000", "v_0004", "v_0008"]
    assert [r["time_s"] for r in rows] == ["0.0000", "0.5000", "1.0000"]
    assert [float(r["yaw_deg"]) for r in rows] == pytest.approx([-134.44, -21.94, 90.56], abs=0.01)
    assert [r["warmup"] for r in rows] == ["0", "0", "0"]  # a stack without warm-up marks


def test_warmup_maps_are_marked_in_the_stack_and_directions_csv(tmp_path):
    maps = {f"v_{n:04d}": np.random.default_rng(n).random((240, 320), np.float32) for n in range(0, 24, 4)}
    save_stack(tmp_path / "s.npz", maps, warmup=["v_0000", "v_0004"])
    assert read_warmup(tmp_path / "s.npz") == {"v_0000", "v_0004"}
    with np.load(tmp_path / "s.npz") as data:  # the metadata: one flag per map, in the order of names
        assert data["warmup"].tolist() == [True, True, False, False, False, False] and data["warmup"].dtype == bool
    write_directions(tmp_path / "s.npz", tmp_path / "d.csv", fps=8.0)
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert list(rows[0]) == ["frame", "source_index", "time_s", "yaw_deg", "pitch_deg", "x", "y", "warmup"]
    assert [r["warmup"] for r in rows] == ["1", "1", "0", "0", "0", "0"]
    save_stack(tmp_path / "plain.npz", maps)
    assert read_warmup(tmp_path / "plain.npz") == set()


def test_contact_sheet(tmp_path):
    (tmp_path / "f").mkdir()
    maps = {}
    for n in range(0, 40, 2):
        cv2.imwrite(str(tmp_path / "f" / f"v_{n:04d}.png"), np.full((240, 320, 3), 100, np.uint8))
        maps[f"v_{n:04d}"] = np.random.default_rng(n).random((240, 320))
    save_stack(tmp_path / "s.npz", maps)
    shown = contact_sheet(tmp_path / "f", tmp_path / "s.npz", tmp_path / "c.png", count=6, columns=4)
    assert shown == ["v_0000", "v_0008", "v_0016", "v_0022", "v_0030", "v_0038"]  # evenly spaced
    sheet = cv2.imread(str(tmp_path / "c.png"))
    # 2 rows x 4 cells; each cell = frame + overlay side by side, with a label band and a border
    assert sheet.shape == (2 * (240 + 26), 4 * (640 + 4), 3)


def test_predict_raw_npz_reads_as_a_stack(tmp_path):
    """`sstsal predict --save-raw`'s raw.npz (one map per frame name) is accepted where a stack is."""
    raw = {"v_0012": np.full((240, 320), 0.5, np.float32), "v_0004": np.zeros((240, 320), np.float32)}
    np.savez(tmp_path / "raw.npz", **raw)
    stack, names = load_stack(tmp_path / "raw.npz")
    assert names == ["v_0004", "v_0012"]
    assert stack.dtype == np.float16 and stack.shape == (2, 240, 320)
    assert float(stack[1, 0, 0]) == 0.5


def test_an_npz_of_something_else_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3, np.float32))
    with pytest.raises(KeyError):
        load_stack(tmp_path / "other.npz")
