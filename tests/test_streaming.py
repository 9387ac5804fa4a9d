"""sstsal.streaming: segments, tile scores (tiles.csv), the ROI and uniform encodes, the quality measures."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from videoclips import make_clip

from sstsal.cli import main
from sstsal.errors import InputError, SstsalError
from sstsal.media.saliency_stack import save_stack
from sstsal.media.spherical_metadata import read_spherical_metadata
from sstsal.media.video import ffmpeg_exe, probe_video
from sstsal.streaming.encoding import EncodeSettings, check_keyframes, encode_video, keyframe_times, qp_offsets
from sstsal.streaming.quality import psnr, salient_region, weighted_mse, ws_weights
from sstsal.streaming.segments import segment_maps, video_segments
from sstsal.streaming.tiles import (
    COLUMNS,
    TileLayout,
    TileScorer,
    TileSettings,
    read_tiles,
    row_solid_angles,
    sphere_densities,
    write_tiles,
)

H, W = 240, 320


def spot(yaw: float, pitch: float, sigma: float = 8.0, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A map (H, W) with a Gaussian hot spot at (yaw, pitch) degrees."""
    from sstsal.viewing.camera import direction, pixel_directions

    cos = pixel_directions(size[1], size[0]) @ direction(yaw, pitch)
    return np.exp((cos - 1) / math.radians(sigma) ** 2).astype(np.float32)


def tile_at(layout: TileLayout, yaw: float, pitch: float) -> str:
    """The name of the tile holding a direction (from the layout's own labels)."""
    labels = layout.labels(180, 360)
    row, col = min(179, int(90 - pitch)), int((yaw + 180) % 360)
    return layout.tiles()[labels[row, col]].name


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ---- segments -----------------------------------------------------------------------------


def test_segments_follow_the_video_time():
    assert [(s.start_frame, s.stop_frame) for s in video_segments(100, 30.0, 1.0)] == [(0, 30), (30, 60), (60, 90), (90, 100)]
    ntsc = video_segments(300, 30000 / 1001, 2.0)  # 59.94 frames per 2 s: boundaries at the first frame at or after 2k s
    assert [s.start_frame for s in ntsc] == [0, 60, 120, 180, 240] and ntsc[1].start_s >= 2.0 > (ntsc[1].start_frame - 1) / ntsc[1].fps
    assert [s.stop_frame - s.start_frame for s in video_segments(25, 25.0, 0.5)] == [13, 12]  # 12.5 frames: 0..12, 13..24
    with pytest.raises(InputError, match="holds no frame"):
        video_segments(100, 30.0, 0.01)


def test_segment_maps_groups_by_source_frame_and_reads_a_folder(tmp_path):
    import cv2

    maps = {f"v_{n:04d}": np.full((4, 8), n, np.float32) for n in (0, 4, 8, 12, 16, 40)}
    save_stack(tmp_path / "s.npz", maps)
    folder = tmp_path / "gt"
    folder.mkdir()
    for name, m in maps.items():
        cv2.imwrite(str(folder / f"{name}.png"), m.astype(np.uint16) * 1000)
    segments = video_segments(48, 10.0, 1.0)
    for source, scale in ((tmp_path / "s.npz", 1), (folder, 1000)):
        got = [(s.index, list(frames), m[:, 0, 0].tolist()) for s, m, frames in segment_maps(source, segments)]
        assert got == [(0, [0, 4, 8], [0, 4 * scale, 8 * scale]), (1, [12, 16], [12 * scale, 16 * scale]), (2, [], []),
                       (3, [], []), (4, [40], [40 * scale])]  # fmt: skip


# ---- tiles --------------------------------------------------------------------------------


def test_pole_tile_weighs_less_than_equator_tile_of_the_same_pixels():
    layout = TileLayout.parse("equirect:4x8")
    scorer = TileScorer(layout, (H, W))
    share, viewport = scorer.score(sphere_densities(np.ones((1, H, W))).mean(axis=0))
    tiles = {t.name: i for i, t in enumerate(scorer.tiles)}
    pole, equator = share[tiles["r0c0"]], share[tiles["r1c0"]]  # both 60x40 pixels of the map
    assert pole < 0.5 * equator
    # a uniform saliency: every tile's share is its solid angle, exactly
    assert np.allclose(share, [t.area for t in scorer.tiles], atol=1e-12) and math.isclose(share.sum(), 1.0)
    assert math.isclose(pole / equator, (1 - math.sin(math.radians(45))) / math.sin(math.radians(45)), rel_tol=1e-9)
    assert viewport[tiles["r0c0"]] < viewport[tiles["r1c0"]]
    assert math.isclose(row_solid_angles(H).sum(), 1.0)


def test_cubemap_tiles_cover_the_sphere_once():
    for n in (1, 2, 3):
        tiles = TileLayout.parse(f"cubemap:{n}").tiles()
        assert len(tiles) == 6 * n * n and math.isclose(sum(t.area for t in tiles), 1.0)
        assert len({t.name for t in tiles}) == len(tiles)
    layout = TileLayout.parse("cubemap:1")
    assert tile_at(layout, 0, 0) == "front_r0c0" and tile_at(layout, 90, 0) == "right_r0c0"
    assert tile_at(layout, 179, 10) == "back_r0c0" and tile_at(layout, 10, 80) == "up_r0c0"
    assert tile_at(layout, -90, -5) == "left_r0c0" and tile_at(layout, 0, -80) == "down_r0c0"
    up = {t.name: t for t in TileLayout.parse("cubemap:3").tiles()}["up_r1c1"]
    assert (up.yaw_min, up.yaw_max, up.pitch_max) == (-180.0, 180.0, 90.0)


@pytest.mark.parametrize("layout", ["equirect:4x8", "equirect:3x6", "cubemap:2"])
def test_shares_sum_to_one_and_follow_a_moving_hot_spot(tmp_path, layout):
    """A hot spot at yaw -110 pitch 10 for the first second, at yaw 60 pitch 20 for the second: the top tile moves with it."""
    fps = 8.0
    maps = {f"clip_{n:04d}": spot(-110, 10) if n < 8 else spot(60, 20) for n in range(16)}
    save_stack(tmp_path / "saliency.npz", maps)
    settings = TileSettings(segment_s=1.0, layouts=(layout, "equirect:4x8") if layout != "equirect:4x8" else (layout,))
    assert write_tiles(tmp_path / "saliency.npz", tmp_path / "tiles.csv", fps=fps, frame_count=16, settings=settings,
                       plot=tmp_path / "tiles.png") == 2  # fmt: skip
    rows = [r for r in read_rows(tmp_path / "tiles.csv") if r["layout"] == TileLayout.parse(layout).name]
    assert list(read_rows(tmp_path / "tiles.csv")[0]) == COLUMNS
    parsed = TileLayout.parse(layout)
    for segment, where in ((0, (-110, 10)), (1, (60, 20))):
        mine = [r for r in rows if int(r["segment"]) == segment]
        assert len(mine) == len(parsed.tiles())
        assert math.isclose(sum(float(r["share"]) for r in mine), 1.0, abs_tol=1e-4)
        top = min(mine, key=lambda r: int(r["rank"]))
        assert top["tile"] == tile_at(parsed, *where), (segment, top)
        assert float(top["share"]) > 0.3 and float(top["viewport_p"]) > 0.99
        far = tile_at(parsed, where[0] + 180, -where[1])  # the other side of the sphere
        assert float(next(r for r in mine if r["tile"] == far)["viewport_p"]) < 0.01
        assert mine[0]["start_s"] == f"{segment:.4f}" and mine[0]["maps"] == "8"
    assert (tmp_path / "tiles.png").stat().st_size > 10_000


def test_segments_without_maps_hold_the_last_and_other_videos_maps_are_refused(tmp_path):
    save_stack(tmp_path / "s.npz", {"v_0020": spot(0, 0), "v_0090": spot(90, 0)})
    write_tiles(tmp_path / "s.npz", tmp_path / "t.csv", fps=10.0, frame_count=100)
    top = {int(r["segment"]): r["tile"] for r in read_rows(tmp_path / "t.csv") if r["rank"] == "1"}
    maps = {int(r["segment"]): int(r["maps"]) for r in read_rows(tmp_path / "t.csv")}
    assert maps == {0: 0, 1: 0, 2: 1, **{k: 0 for k in range(3, 9)}, 9: 1}
    assert top[0] == top[1] == top[8] == tile_at(TileLayout.parse("equirect:4x8"), 0, 0) != top[9]
    with pytest.raises(InputError, match="no map of this video's frames"):
        write_tiles(tmp_path / "s.npz", tmp_path / "u.csv", fps=10.0, frame_count=10)
    assert not (tmp_path / "u.csv").exists()
    with pytest.raises(InputError, match="equirect:ROWSxCOLS"):
        TileSettings(layouts=("grid 4x8",))
    with pytest.raises(InputError, match="fov"):
        TileSettings(fov=(200.0, 90.0))


def test_ground_truth_maps_from_sstsal_groundtruth(tmp_path):
    """The maps `sstsal groundtruth` writes (16-bit PNGs per sampled frame) steer the tiles as a stack does."""
    gaze = tmp_path / "gaze.csv"
    lines = ["time_s,observer,yaw,pitch"]
    for observer in ("a", "b"):
        for i in range(100):  # 50 Hz for 2 s: looking at yaw 160 pitch -20, then at yaw -30 pitch 10
            t = i / 50
            yaw, pitch = (160.0, -20.0) if t < 1 else (-30.0, 10.0)
            lines.append(f"{t:.3f},{observer},{yaw + 0.2 * (i % 3)},{pitch}")
    gaze.write_text("\n".join(lines) + "\n")
    assert main(["groundtruth", str(gaze), "--out", str(tmp_path / "gt"), "--name", "clip", "--fps", "10",
                 "--frame-count", "20", "--sampling", "all", "--size", "256x128", "--fixations", "samples"]) == 0  # fmt: skip
    assert main(["tiles", "--maps", str(tmp_path / "gt" / "clip"), "--out", str(tmp_path / "tiles.csv"),
                 "--fps", "10", "--frame-count", "20", "--layout", "equirect:4x8", "--layout", "cubemap:1"]) == 0  # fmt: skip
    rows = [r for r in read_rows(tmp_path / "tiles.csv") if r["rank"] == "1"]
    top = {(int(r["segment"]), r["layout"]): r["tile"] for r in rows}
    grid = TileLayout.parse("equirect:4x8")
    assert top[(0, "equirect:4x8")] == tile_at(grid, 160, -20) and top[(1, "equirect:4x8")] == tile_at(grid, -30, 10)
    assert top[(0, "cubemap:1")] == "back_r0c0" and top[(1, "cubemap:1")] == "front_r0c0"


def test_cli_tiles_bad_input_is_one_error_line(tmp_path):
    cmd = [sys.executable, "-m", "sstsal", "tiles", "--maps", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "t.csv"),
           "--fps", "10", "--frame-count", "20"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: saliency maps") and "Traceback" not in proc.stderr
    assert not (tmp_path / "t.csv").exists()


# ---- quality ------------------------------------------------------------------------------


def test_ws_psnr_weights_and_salient_region():
    weights = ws_weights(64, 128)
    assert weights[0, 0] < 0.03 and weights[32, 0] > 0.99
    ref = np.full((64, 128), 100, np.uint8)
    noisy = ref.copy()
    noisy[:4] = 200  # an error at the pole: WS-PSNR forgives it more than plain PSNR
    assert psnr(weighted_mse(ref, ref, weights)) == 100.0
    assert psnr(weighted_mse(ref, noisy, weights)) > psnr(weighted_mse(ref, noisy, np.ones_like(weights))) + 5
    density = sphere_densities(spot(45, 0, sigma=20, size=(128, 64))[None])[0]
    region = salient_region(density, (256, 128), 0.2)
    area = (region * row_solid_angles(128)[:, None] / 256).sum()
    assert 0.2 <= area < 0.21 and region[64, int((45 + 180) / 360 * 256)] and not region[64, int((-135 + 180) / 360 * 256)]
    # a sharp map, zero almost everywhere: the region grows around the spot, not from the image's top rows
    sharp = np.zeros((60, 120))
    sharp[20:24, 10:14] = 1.0
    region = salient_region(sphere_densities(sharp[None])[0], (240, 120), 0.2)
    assert region[44, 24] and not region[0].any() and not region[:, 120].any()


# ---- encoding -----------------------------------------------------------------------------


def tile_psnr(a: Path, b: Path, rect: tuple[int, int, int, int], size: tuple[int, int]) -> float:
    """Mean PSNR over frames of the luma inside ``rect`` (x0, y0, x1, y1) of two videos decoded at ``size``."""
    from sstsal.streaming.quality import _gray_frames

    x0, y0, x1, y1 = rect
    values = [psnr(float(np.mean((p[y0:y1, x0:x1].astype(float) - q[y0:y1, x0:x1]) ** 2)))
              for p, q in zip(_gray_frames(a, size), _gray_frames(b, size))]  # fmt: skip
    assert values
    return float(np.mean(values))


@pytest.fixture(scope="module")
def steered(tmp_path_factory):
    """A 3 s textured clip with sound, saliency on tile r1c2 (yaw -90..-45, pitch 0..45), its tiles.csv."""
    folder = tmp_path_factory.mktemp("encode")
    clip = make_clip(folder / "clip.mp4", width=256, height=128, fps=10, seconds=3, audio=True)
    save_stack(folder / "saliency.npz", {f"clip_{n:04d}": spot(-67.5, 22.5, sigma=6) for n in range(0, 30, 2)})
    write_tiles(folder / "saliency.npz", folder / "tiles.csv", fps=10.0, frame_count=30)
    return folder, clip


@pytest.fixture(scope="module")
def x264(steered):
    """The uniform and ROI encodes of the steered clip (libx264, two-pass at 40 kbit/s) and their record."""
    folder, clip = steered
    out = folder / "x264"
    record = encode_video(clip, folder / "tiles.csv", out, settings=EncodeSettings(preset="veryfast", bitrate_kbps=40))
    return out, record


def test_roi_encode_moves_quality_to_the_salient_tile_at_equal_size(steered, x264):
    folder, clip = steered
    out, record = x264
    uniform, roi = out / "uniform.mp4", out / "roi.mp4"
    assert abs(uniform.stat().st_size / roi.stat().st_size - 1) < 0.02
    assert abs(record["size_ratio"] - 1) <= 0.01 and len(record["segments"]) == 3
    assert record["segments"][0]["qp_offsets"]["r1c2"] == -6.0 and record["segments"][0]["qp_offsets"]["r3c6"] == 6.0
    hot, cold = (64, 32, 96, 64), (192, 96, 224, 128)  # r1c2 and r3c6 in the 256x128 frame
    assert tile_psnr(clip, roi, hot, (256, 128)) > tile_psnr(clip, uniform, hot, (256, 128)) + 1.0
    assert tile_psnr(clip, roi, cold, (256, 128)) < tile_psnr(clip, uniform, cold, (256, 128)) - 0.5
    # plays to the end, keeps the sound, says it is a mono equirectangular 360-degree video
    for path in (uniform, roi):
        info = probe_video(path)
        assert (info.width, info.height, info.frame_count, info.has_audio, info.codec) == (256, 128, 30, True, "h264")
        meta = read_spherical_metadata(path)
        assert (meta.projection, meta.stereo) == ("equirectangular", "mono") and "v2" in meta.version
        # a key frame on every segment start, closed GOPs: a packager cuts at 0, 1, 2 s
        assert keyframe_times(path) == [0.0, 1.0, 2.0]
    assert not list(folder.glob(".x264*")), "temporary folder left behind"


def test_keyframe_check_fails_without_segment_aligned_gops(steered):
    folder, clip = steered
    assert keyframe_times(clip) == [0.0]  # the source: x264's default GOP is longer than the clip
    with pytest.raises(SstsalError, match="no key frame at the segment start"):
        check_keyframes(clip, video_segments(30, 10.0, 1.0))


def test_x265_encode_has_closed_gops_and_metadata(steered):
    folder, clip = steered
    out = folder / "x265"
    settings = EncodeSettings(encoder="libx265", preset="ultrafast", crf=30, strength=4)
    assert main(["encode", str(clip), "--tiles", str(folder / "tiles.csv"), "--out", str(out), "--encoder", "libx265",
                 "--preset", "ultrafast", "--crf", "30", "--strength", "4"]) == 0  # fmt: skip
    assert settings.strength == 4
    for name in ("uniform.mp4", "roi.mp4"):
        info = probe_video(out / name)
        assert (info.codec, info.frame_count, info.has_audio) == ("hevc", 30, True)
        assert keyframe_times(out / name) == [0.0, 1.0, 2.0]
        assert read_spherical_metadata(out / name).projection == "equirectangular"
    proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out / "roi.mp4"), "-f", "null", "-"], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip()
    # ultrafast turns adaptive quantisation off, which would drop the regions: they are kept
    hot = (64, 32, 96, 64)
    assert tile_psnr(clip, out / "roi.mp4", hot, (256, 128)) > tile_psnr(clip, out / "uniform.mp4", hot, (256, 128)) + 1.0


def test_encode_refuses_tiles_of_another_video_before_work(steered, tmp_path):
    folder, clip = steered
    write_tiles(folder / "saliency.npz", tmp_path / "short.csv", fps=10.0, frame_count=20)
    with pytest.raises(InputError, match="do not cover this video's 30 frames"):
        encode_video(clip, tmp_path / "short.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    with pytest.raises(InputError, match="encoder must be one of"):
        EncodeSettings(encoder="h264_nvenc")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="refusing to replace"):
        encode_video(clip, folder / "tiles.csv", tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    layout, scores, _ = read_tiles(folder / "tiles.csv")
    assert scores[0]["r1c2"][1] == 1.0 and scores[0]["r1c2"][0] > 0.5  # (share, viewport_p) of the hot tile
    for steer in ("viewport", "share"):
        offsets = qp_offsets(scores[0], layout.tiles(), 6.0, steer)
        assert offsets["r1c2"] == -6.0 and offsets["r3c6"] == 6.0 and set(offsets) == {t.name for t in layout.tiles()}
        assert qp_offsets(scores[0], layout.tiles(), 0.0, steer) == {t.name: 0.0 for t in layout.tiles()}
    # a viewport around the hot tile also covers its neighbours: finer there too when steered by viewports
    assert qp_offsets(scores[0], layout.tiles(), 6.0, "viewport")["r1c3"] < 0 < qp_offsets(scores[0], layout.tiles(), 6.0, "share")["r1c3"]


def test_quality_with_ground_truth_maps_from_sstsal_groundtruth(steered, x264, tmp_path):
    """The benchmark's measures, the regions and the director's path taken from ground-truth maps (a folder of
    16-bit PNGs as `sstsal groundtruth` writes them) instead of the maps that steered the encode."""
    from sstsal.streaming.quality import compare_encodes

    folder, clip = steered
    out, _ = x264
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("time_s,observer,yaw,pitch\n" + "".join(f"{i / 50:.3f},{o},{-67.5 + 0.3 * (i % 4)},22.5\n"
                                                            for o in "ab" for i in range(150)))  # fmt: skip
    assert main(["groundtruth", str(gaze), "--out", str(tmp_path / "gt"), "--name", "clip", "--video", str(clip),
                 "--sampling", "all", "--size", "256x128", "--fixations", "samples", "--sigma", "6"]) == 0  # fmt: skip
    info = probe_video(clip)
    encodes = {"uniform": out / "uniform.mp4", "roi": out / "roi.mp4"}
    segments = video_segments(info.frame_count, info.fps, 1.0)
    kwargs = dict(size=(256, 128), random_views=4)
    truth = compare_encodes(clip, info, encodes, tmp_path / "gt" / "clip", segments, **kwargs)
    predicted = compare_encodes(clip, info, encodes, folder / "saliency.npz", segments, **kwargs)
    for result in (truth, predicted):
        assert set(result) == {"uniform", "roi"} and all(len(v) == 4 for v in result.values())
        assert result["roi"]["salient_ws_psnr"] > result["uniform"]["salient_ws_psnr"] + 1.0
        assert result["roi"]["director_psnr"] > result["uniform"]["director_psnr"] + 1.0
        assert result["roi"]["ws_psnr"] < result["uniform"]["ws_psnr"]  # what the whole sphere loses
    assert truth["uniform"]["ws_psnr"] == predicted["uniform"]["ws_psnr"]  # the same frames, other regions
