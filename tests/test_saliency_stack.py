"""The saliency stack: written map by map, finalised atomically, read a window at a time; the
compressed stacks of earlier versions and raw.npz still read; stages hold a window, not the video."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from sstsal.media.saliency_stack import StackWriter, load_stack, open_stack, save_stack
from sstsal.media.video import VideoInfo
from sstsal.viewing.director import director_path
from sstsal.viewing.summary import write_directions

MB = 1 << 20


def names_of(count: int, step: int = 4) -> list[str]:
    return [f"v_{i * step:04d}" for i in range(count)]


def smooth_map(i: int) -> np.ndarray:
    """A (240, 320) map whose peak moves with i (cheap to make, different per frame)."""
    x = np.linspace(-np.pi, np.pi, 320, dtype=np.float32)
    y = np.linspace(-1, 1, 240, dtype=np.float32)[:, None]
    return np.exp(np.cos(x - 0.05 * i) * 2 - y * y * 3).astype(np.float32)


def test_append_then_read_windows_in_order(tmp_path):
    maps = np.random.default_rng(0).random((10, 240, 320), dtype=np.float32)
    with StackWriter(tmp_path / "s.npz", names_of(10)) as out:
        out.append(maps[0])
        out.extend(maps[1:4])
        for m in maps[4:]:
            out.append(m)
        assert not (tmp_path / "s.npz").exists()  # appears only when complete
    with open_stack(tmp_path / "s.npz") as stack:
        assert len(stack) == 10 and list(stack.names) == names_of(10)
        assert np.array_equal(stack.frames, np.arange(10) * 4)
        assert np.allclose(stack.times(8.0), np.arange(10) * 0.5)
        assert np.array_equal(stack.window(3, 7), maps[3:7].astype(np.float16))
        assert np.array_equal(stack.map(9), maps[9].astype(np.float16))
        assert [(first, len(w)) for first, w in stack.windows(4)] == [(0, 4), (4, 4), (8, 2)]
        assert stack.window(8, 50).shape == (2, 240, 320)
    # still an ordinary npz for anyone's numpy
    with np.load(tmp_path / "s.npz") as data:
        assert data["maps"].dtype == np.float16 and list(data["names"]) == names_of(10)


def test_a_failed_or_short_writer_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with StackWriter(tmp_path / "s.npz", names_of(3)) as out:
            out.append(smooth_map(0))
            raise RuntimeError("killed")
    with pytest.raises(ValueError, match="1 maps written for 3"):
        with StackWriter(tmp_path / "s.npz", names_of(3)) as out:
            out.append(smooth_map(0))
    with pytest.raises(ValueError, match="more maps"):
        with StackWriter(tmp_path / "s.npz", names_of(1)) as out:
            out.extend(np.zeros((2, 240, 320)))
    with pytest.raises(ValueError, match="ascending"):
        StackWriter(tmp_path / "s.npz", ["v_0008", "v_0004"])
    assert list(tmp_path.iterdir()) == []  # no stack, no temporary file


def test_old_compressed_stack_and_raw_npz_still_read(tmp_path):
    maps = np.random.default_rng(1).random((70, 240, 320), dtype=np.float32)
    names = names_of(70)
    # the stack of earlier versions: np.savez_compressed(maps=float16, names=...)
    np.savez_compressed(tmp_path / "old.npz", maps=maps.astype(np.float16), names=np.array(names))
    with open_stack(tmp_path / "old.npz") as stack:
        assert list(stack.names) == names
        assert np.array_equal(stack.window(65, 70), maps[65:70].astype(np.float16))
        assert np.array_equal(stack.window(2, 4), maps[2:4].astype(np.float16))  # back again: re-read from the start
        assert np.array_equal(np.concatenate([w for _, w in stack.windows(16)]), maps.astype(np.float16))
    # sstsal predict --save-raw's raw.npz, in any member order
    np.savez(tmp_path / "raw.npz", **{n: maps[i] for i, n in reversed(list(enumerate(names[:5])))})
    stacked, raw_names = load_stack(tmp_path / "raw.npz")
    assert raw_names == names[:5] and np.array_equal(stacked, maps[:5].astype(np.float16))


def test_save_stack_orders_by_frame_number(tmp_path):
    save_stack(tmp_path / "s.npz", {"v_10000": np.ones((240, 320)), "v_9996": np.zeros((240, 320))})
    maps, names = load_stack(tmp_path / "s.npz")
    assert names == ["v_9996", "v_10000"] and maps[0].max() == 0 and maps[1].min() == 1


@pytest.fixture(scope="module")
def big_stack(tmp_path_factory):
    """1200 maps (184 MB as float16, 369 MB as float32), written map by map."""
    path = tmp_path_factory.mktemp("big") / "saliency.npz"
    tracemalloc.start()
    with StackWriter(path, names_of(1200)) as out:
        for i in range(1200):
            out.append(smooth_map(i))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * MB, f"writing held {peak / MB:.1f} MB"
    return path


def traced_peak(call) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def test_reading_a_big_stack_window_by_window_holds_one_window(big_stack):
    def total():
        with open_stack(big_stack) as stack:
            return sum(float(w.astype(np.float32).sum()) for _, w in stack.windows())

    assert traced_peak(total) < 30  # a window of 64 maps is 9.4 MB float16, 19 MB float32; the stack 184 MB


def test_directions_of_a_big_stack_hold_a_window(big_stack, tmp_path):
    assert traced_peak(lambda: write_directions(big_stack, tmp_path / "d.csv", fps=30.0)) < 30
    lines = (tmp_path / "d.csv").read_text().splitlines()
    assert len(lines) == 1201 and lines[1].startswith("v_0000,0,0.0000,")


def test_director_path_memory_does_not_grow_with_the_maps(big_stack, tmp_path):
    with open_stack(big_stack) as stack, StackWriter(tmp_path / "short.npz", stack.names[:300]) as out:
        out.extend(stack.window(0, 300))

    def peak(path, maps):
        frames = maps * 4
        info = VideoInfo(path="v.mp4", width=640, height=320, fps=30.0, rate="30/1", frame_count=frames,
                         duration=frames / 30, has_audio=False, codec="h264")  # fmt: skip
        return traced_peak(lambda: director_path(path, info))

    short, long = peak(tmp_path / "short.npz", 300), peak(big_stack, 1200)
    # 900 more maps read at once would be 277 MB more (float32); held are their scores
    # (900 x 1800 candidates, float32: 6.5 MB, twice while smoothed) and the path's rows
    assert long - short < 30, f"{short:.1f} MB for 300 maps, {long:.1f} MB for 1200"
