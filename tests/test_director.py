"""The director's cut (sstsal.viewing.camera, sstsal.viewing.director): projection, camera, video."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from videoclips import decode_opencv, make_clip

from sstsal.errors import InputError
from sstsal.media.saliency_stack import save_stack
from sstsal.media.video import probe_video
from sstsal.viewing.camera import (
    CameraPath,
    DirectorSettings,
    angle_between,
    camera_path,
    direction,
    measure_path,
    sample_map,
    sphere_mean,
)
from sstsal.viewing.director import camera_rays, make_director_cut, output_size, project

FPS = 24
YY, XX = np.mgrid[0:240, 0:320]


def blob_maps(centres, sigma: float = 8.0, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """(N, 240, 320) maps: a Gaussian blob at each (x, y) pixel centre (wrapping in x), plus noise."""
    rng = np.random.default_rng(seed)
    maps = np.stack([np.exp(-((((XX - x + 160) % 320) - 160) ** 2 + (YY - y) ** 2) / (2 * sigma**2)) for x, y in centres])
    return (maps + noise * rng.random(maps.shape)).astype(np.float32)


def path_for(centres, settings=DirectorSettings(), step: int = 3):
    maps = blob_maps(centres)
    frames = np.arange(len(centres)) * step
    path = camera_path(maps, frames, fps=FPS, frame_count=len(centres) * step, settings=settings)
    return path, measure_path(path, maps, frames, FPS)


def yaw_of(x: float) -> float:
    return (x + 0.5) / 320 * 360 - 180


def test_projection_puts_the_direction_at_the_centre():
    source = np.zeros((480, 960, 3), np.uint8)
    rays = camera_rays(160, 90, 90)
    for yaw, pitch in [(30.0, 20.0), (-120.0, -35.0), (179.0, 0.0)]:
        frame = source.copy()
        x, y = round((yaw + 180) / 360 * 960 - 0.5), round((90 - pitch) / 180 * 480 - 0.5)
        for dx in range(-3, 4):  # a marker that may straddle the seam
            frame[y - 3 : y + 4, (x + dx) % 960] = 255
        view = project(frame, rays, yaw, pitch)
        ys, xs = np.nonzero(view[..., 0] > 128)
        assert abs(ys.mean() - 44.5) < 1.5 and abs(xs.mean() - 79.5) < 1.5, (yaw, pitch)
        assert project(frame, rays, yaw + 180, 0)[..., 0].max() == 0  # the opposite view does not see it


def test_projection_is_rectilinear():
    # a 90-degree field of view spans exactly yaw -45..45: markers there land on the left and right edges
    frame = np.zeros((480, 960, 3), np.uint8)
    for yaw in (-45.0, 45.0):
        x = round((yaw + 180) / 360 * 960 - 0.5)
        frame[235:245, x - 1 : x + 2] = 255
    view = project(frame, camera_rays(200, 100, 90), 0.0, 0.0)
    cols = np.nonzero(view[..., 0].max(axis=0) > 100)[0]
    assert cols.min() <= 1 and cols.max() >= 198


def test_camera_follows_a_moving_target_within_its_bounds():
    settings = DirectorSettings(max_speed=40.0)
    path, measures = path_for([((160 + 2 * i) % 320, 100) for i in range(60)], settings)  # 18 deg/s to the right
    assert measures.cuts == 0
    assert measures.centre_ratio > 4 * measures.front_ratio and measures.centre_ratio > 10
    assert measures.max_speed <= 40.0 + 1e-6
    end = direction(yaw_of((160 + 2 * 59) % 320), 90 - 100.5 / 240 * 180)
    assert np.degrees(angle_between(direction(path.yaw[-1], path.pitch[-1]), end)) < 10  # kept up with it


def test_no_jitter_from_noisy_maxima():
    rng = np.random.default_rng(1)
    path, measures = path_for([(160 + rng.integers(-4, 5), 120 + rng.integers(-4, 5)) for _ in range(40)])
    dirs = direction(path.yaw, path.pitch)
    assert np.degrees(angle_between(dirs, dirs[:1])).max() < 3  # the camera stays put
    assert measures.cuts == 0


def test_cut_when_attention_jumps_far_and_stays():
    settings = DirectorSettings(cut_after_s=1.0)
    path, measures = path_for([(160, 120) if i < 20 else (40, 120) for i in range(60)], settings)
    cuts = np.flatnonzero(path.cut)
    assert len(cuts) == 1 and measures.cuts == 1
    assert (cuts[0] - 60) / FPS >= 1.0 - 1e-9  # not before the target has been away for cut_after_s
    assert abs(path.yaw[cuts[0]] - yaw_of(40)) < 5 and abs(path.yaw[cuts[0] - 1]) < 1  # no pan halfway before it
    assert measures.max_speed < 1  # between the cuts the camera stood still


def test_no_cut_for_a_brief_glance():
    path, measures = path_for([(160, 120) if not 15 <= i < 18 else (40, 120) for i in range(40)])
    assert measures.cuts == 0
    assert np.abs(path.yaw).max() < 1


def test_warmup_maps_hold_the_first_well_founded_direction():
    """Warm-up maps peaking near a pole (as the first maps of a video do) steer nothing: the path
    holds the first well-founded direction from the start; unmarked, the same maps pull it there."""
    centres = [(240, 40)] * 4 + [(80, 120)] * 20  # warm-up: up and far to the right; then ahead-left
    maps, frames = blob_maps(centres, noise=0), np.arange(24) * 12  # a map every half second
    warmup = np.arange(24) < 4
    path = camera_path(maps, frames, fps=FPS, frame_count=288, warmup=warmup)
    first_good = direction(yaw_of(80), 90 - 120.5 / 240 * 180)
    off = np.degrees(angle_between(direction(path.yaw, path.pitch), first_good))
    assert off.max() < 3  # from frame 0 on, not only after the warm-up
    unmarked = camera_path(maps, frames, fps=FPS, frame_count=288)
    assert np.degrees(angle_between(direction(unmarked.yaw[:24], unmarked.pitch[:24]), first_good)).min() > 60
    # all maps warm-up (a video of at most 4 sampled frames): nothing better to hold, they steer
    only = camera_path(maps[:4], frames[:4], fps=FPS, frame_count=48, warmup=warmup[:4])
    assert np.array_equal(only.yaw, camera_path(maps[:4], frames[:4], fps=FPS, frame_count=48).yaw)


def test_director_path_reads_the_warmup_marks_of_the_stack(tmp_path, caplog):
    from sstsal.media.video import VideoInfo  # noqa: F401  (the probe record's type)
    from sstsal.viewing.director import director_path

    clip = make_clip(tmp_path / "c.mp4", width=256, height=128, fps=FPS, seconds=12)
    info = probe_video(clip)
    centres = [(240, 40)] * 4 + [(80, 120)] * 20
    names = [f"c_{12 * i:04d}" for i in range(24)]
    save_stack(tmp_path / "s.npz", dict(zip(names, blob_maps(centres, noise=0))), warmup=names[:4])
    with caplog.at_level("INFO", logger="sstsal.viewing.director"):
        path, _ = director_path(tmp_path / "s.npz", info)
    assert abs(path.yaw[0] - yaw_of(80)) < 3 and np.abs(path.pitch[:48]).max() < 3
    assert any("4 warm-up map(s) (frames 0, 12, 24, 36) hold the first well-founded direction" in r.getMessage() for r in caplog.records)


def test_target_weights_by_solid_angle():
    # two blobs of equal peak: one on the equator, one near the pole (stretched wide in the image but
    # small on the sphere); the camera looks at the equator one
    maps = np.maximum(blob_maps([(80, 120)], noise=0), blob_maps([(240, 12)], sigma=14, noise=0))
    maps[:, :30, 200:280] = np.maximum(maps[:, :30, 200:280], 0.9)  # a band around the pole
    path = camera_path(maps, np.array([0]), fps=FPS, frame_count=1)
    assert abs(path.yaw[0] - yaw_of(80)) < 6 and abs(path.pitch[0]) < 6


def test_measures_and_csv_round_trip(tmp_path):
    flat = np.ones((240, 320), np.float32)
    assert sphere_mean(flat) == pytest.approx(1.0)
    ramp = np.tile(np.arange(320, dtype=np.float32), (240, 1))
    assert sample_map(ramp, yaw_of(100), 0.0) == pytest.approx(100.0)
    assert sample_map(ramp, 180.0, 0.0) == pytest.approx((319 + 0) / 2)  # the seam interpolates across
    path, _ = path_for([(160, 120)] * 4)
    path.write_csv(tmp_path / "p.csv")
    back = CameraPath.read_csv(tmp_path / "p.csv")
    assert len(back) == len(path) and np.allclose(back.yaw, path.yaw, atol=0.005) and back.fov == path.fov
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a director path"):
        CameraPath.read_csv(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="fov"):
        DirectorSettings(fov=200)


def test_director_cut_video(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", width=512, height=256, fps=12, seconds=2, audio=True)
    names = [f"c_{i:04d}" for i in range(0, 24, 2)]
    maps = blob_maps([(250, 90)] * len(names), noise=0)
    save_stack(tmp_path / "s.npz", dict(zip(names, maps)))
    settings = DirectorSettings(width=161, height=90, fov=120)  # the source holds 170 pixels across 120 degrees
    measures = make_director_cut(clip, tmp_path / "s.npz", tmp_path / "d.mp4", tmp_path / "d.csv",
                                 settings=settings, preset="ultrafast", progress=False)  # fmt: skip
    info = probe_video(tmp_path / "d.mp4")
    assert (info.width, info.height, info.frame_count, info.fps, info.has_audio) == (160, 90, 24, 12.0, True)
    path = CameraPath.read_csv(tmp_path / "d.csv")
    assert len(path) == 24 and path.fov == 120 and np.allclose(path.time_s, np.arange(24) / 12, atol=1e-4)
    assert measures.centre_ratio > 5
    # the rendered frames are the full-resolution source seen along the path (up to coding noise)
    source, rendered = decode_opencv(clip), decode_opencv(tmp_path / "d.mp4")
    expected = project(source[10], camera_rays(160, 90, 120), path.yaw[10], path.pitch[10])
    right = np.abs(rendered[10].astype(int) - expected).mean()
    wrong = project(source[10], camera_rays(160, 90, 120), path.yaw[10] + 5, path.pitch[10])
    assert right < 10 and np.abs(rendered[10].astype(int) - wrong).mean() > 2 * right  # 5 degrees off is visible


def test_cli_errors_leave_nothing(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", seconds=1)
    result = subprocess.run([sys.executable, "-m", "sstsal", "director", str(clip), "--maps", str(tmp_path / "none.npz"),
                             "--out", str(tmp_path / "d.mp4")], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --maps")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


def test_director_size_follows_the_source_down_to_640x360():
    """Above 640x360 the output holds at most the source's pixels across the field of view; below
    that it is 640x360 (upscaled), and never larger than director.width x height."""
    assert output_size((1280, 720), 640, 90) == (640, 360)  # 160 pixels across: upscaled
    assert output_size((1280, 720), 128, 90) == (640, 360)
    assert output_size((1280, 720), 2560, 90) == (640, 360)  # exactly the smallest
    assert output_size((1280, 720), 3000, 90) == (750, 422)  # follows the source
    assert output_size((1280, 720), 3840, 90) == (960, 540)
    assert output_size((1280, 720), 7680, 90) == (1280, 720)
    assert output_size((1920, 720), 640, 90) == (960, 360)  # a wider aspect: both sides at least 640x360
    assert output_size((320, 180), 640, 90) == (320, 180)  # a size asked below 640x360 is kept, not exceeded
    assert output_size((320, 180), 256, 90) == (320, 180)


def test_small_source_cut_is_640x360_and_the_log_says_upscaled(tmp_path, caplog):
    clip = make_clip(tmp_path / "c.mp4", width=640, height=320, fps=12, seconds=1)
    names = [f"c_{i:04d}" for i in range(0, 12, 2)]
    save_stack(tmp_path / "s.npz", dict(zip(names, blob_maps([(250, 90)] * len(names), noise=0))))
    with caplog.at_level("INFO", logger="sstsal.viewing.director"):
        make_director_cut(clip, tmp_path / "s.npz", tmp_path / "d.mp4", tmp_path / "d.csv", preset="ultrafast", progress=False)
    info = probe_video(tmp_path / "d.mp4")
    assert (info.width, info.height) == (640, 360)
    said = [r.getMessage() for r in caplog.records if "upscaled" in r.getMessage()]
    assert said == ["director c.mp4: 640x360, upscaled from the source's 160 pixels across 90 degrees (the cut is at least 640x360)"]
