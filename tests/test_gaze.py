"""Gaze recordings -> ground truth: readers, I-VT on the sphere, maps, time alignment, the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

from sstsal.cli import main
from sstsal.errors import InputError
from sstsal.evaluation import metrics
from sstsal.gaze import sphere
from sstsal.gaze.fixations import FixationSettings, angular_velocity, fixation_labels, identify_fixations, smoothed_velocity
from sstsal.gaze.maps import Alignment, MapSettings, Timeline, build_ground_truth, frame_maps, gaussian_map
from sstsal.gaze.readers import (
    GazeSamples,
    read_dsav360,
    read_gaze,
    read_plain,
    read_pvs_hm,
    read_salient360,
    read_vr_eyetracking,
)
from sstsal.gaze.signal import SignalSettings, prepare_samples

TOOLBOX_REFERENCE = Path(__file__).parent / "data" / "salient360_toolbox_rawDataDyn1.csv"


# --- directions ----------------------------------------------------------------------------------


def test_angles_and_vectors_round_trip_and_follow_directions_csv():
    yaw = np.array([3.0, 93.0, -87.0, 176.0, -42.0])  # off the pixel borders of the 36x18 grid below
    pitch = np.array([2.0, 12.0, -28.0, 86.0, 47.0])
    back_yaw, back_pitch = sphere.to_angles(sphere.to_vectors(yaw, pitch))
    np.testing.assert_allclose(back_yaw, yaw, atol=1e-9)
    np.testing.assert_allclose(back_pitch, pitch, atol=1e-9)
    # yaw 0 is the image centre, positive yaw to the right, pitch up: the pixel each direction
    # names is the one whose centre direction is closest to it.
    height, width = 18, 36
    pixels = sphere.pixel_vectors(height, width)
    rows_cols = metrics.fixations_to_pixels(yaw, pitch, height, width)
    for vector, (row, col) in zip(sphere.to_vectors(yaw, pitch), rows_cols):
        nearest = np.unravel_index(np.argmax(pixels @ vector), (height, width))
        assert (int(nearest[0]), int(nearest[1])) == (row, col)


def test_angular_distance_is_accurate_for_tiny_angles():
    a = sphere.to_vectors(np.array([10.0]), np.array([20.0]))
    b = sphere.to_vectors(np.array([10.0 + 1e-6]), np.array([20.0]))
    expected = math.radians(1e-6) * math.cos(math.radians(20))
    assert sphere.angular_distance(a, b)[0] == pytest.approx(expected, rel=1e-6)


# --- readers -------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_csv_observers_and_direction_columns(tmp_path: Path):
    angles = _write(tmp_path / "a.csv", "time_s,observer,yaw,pitch\n0.1,ann,10,5\n0.0,ann,0,0\n0.0,bob,-170,20\n")
    samples = read_plain(angles)
    assert [s.observer for s in samples] == ["ann", "bob"]
    np.testing.assert_allclose(samples[0].time_s, [0.0, 0.1])  # sorted by time
    np.testing.assert_allclose(samples[0].yaw, [0.0, 10.0])
    vectors = _write(tmp_path / "carl.csv", "time_s,x,y,z\n0,1,0,0\n0.1,0,1,0\n")
    (carl,) = read_plain(vectors)
    assert carl.observer == "carl"  # no observer column: the file's name
    np.testing.assert_allclose([carl.yaw[0], carl.pitch[1]], [90.0, 90.0])
    fractions = _write(tmp_path / "f.csv", "time_s,observer,u,v\n0,o,0.5,0.5\n0.1,o,0.75,0.25\n")
    (o,) = read_plain(fractions)
    np.testing.assert_allclose([o.yaw[1], o.pitch[1]], [90.0, 45.0])
    pixels = _write(tmp_path / "p.csv", "time_s,observer,x,y,width,height\n0,o,1440,240,1920,960\n")
    (p,) = read_plain(pixels)
    np.testing.assert_allclose([p.yaw[0], p.pitch[0]], [90.0, 45.0])


def test_plain_csv_errors_name_the_columns(tmp_path: Path):
    with pytest.raises(InputError, match="time_s, observer and yaw,pitch"):
        read_plain(_write(tmp_path / "bad.csv", "t,yaw,pitch\n0,1,2\n"))
    with pytest.raises(InputError, match=r"pitch must lie in \[-90, 90\]"):
        read_plain(_write(tmp_path / "pitch.csv", "time_s,yaw,pitch\n0,1,120\n"))
    with pytest.raises(InputError, match="not a number"):
        read_plain(_write(tmp_path / "nan.csv", "time_s,yaw,pitch\n0,east,2\n"))


SALIENT360_HEADER = (
    "oculoTS,unityTS,currFrame,cam_pitch,cam_yaw,cam_roll,rightGazeDir.x,rightGazeDir.y,rightGazeDir.z,"
    "leftGazeDir.x,leftGazeDir.y,leftGazeDir.z,binPor.x,binPor.y,Lval,Rval"
)


def _salient360_file(path: Path) -> Path:
    """Salient360!-style rows: 1 row of a previous trial, 4 samples (one invalid), fused last fields."""
    rows = [
        (1000_000_000, 503, 0, 0, 0, (0.0, 0.0, 1.0)),
        (1004_000_000, 0, 0, 0, 0, (0.0, 0.0, 1.0)),
        (1008_000_000, 0, -10, 90, 0, (0.0, 0.0, 1.0)),  # head turned 90 deg right, looking 10 deg up
        (1012_000_000, 1, 0, 0, 0, (float("nan"),) * 3),
        (1016_000_000, 1, 0, 0, 0, (math.sin(math.radians(30)), 0.0, math.cos(math.radians(30)))),  # eye 30 deg right
    ]
    lines = [SALIENT360_HEADER]
    for ts, frame, pitch, yaw, roll, eye in rows:
        eye_text = ",".join("NaN" if math.isnan(v) else str(v) for v in eye)
        lines.append(f"{ts},0,{frame},{pitch},{yaw},{roll},{eye_text},{eye_text},1.0,2.5True,True")  # fused binPor.y/Lval
    return _write(path, "\n".join(lines) + "\n")


def test_salient360_reader_repairs_rows_and_reports_what_it_dropped(tmp_path: Path):
    samples = read_salient360(_salient360_file(tmp_path / "obs.csv"))
    assert samples.observer == "obs"
    assert len(samples.time_s) == 3
    np.testing.assert_allclose(samples.time_s, [0.0, 0.004, 0.012])  # nanoseconds -> seconds, 0 at the first kept sample
    np.testing.assert_array_equal(samples.frame, [0, 0, 1])
    notes = " ".join(samples.notes)
    assert "repaired 5 row(s)" in notes and "dropped 1 leading row(s) of a previous trial" in notes
    assert "dropped 1 sample(s) without a valid eye direction" in notes
    # The scene's forward direction is the video's yaw -90 (the toolbox's placement of the sphere);
    # scene right is the video's left, and scene up the video's down.
    np.testing.assert_allclose([samples.yaw[0], samples.pitch[0]], [-90.0, 0.0], atol=1e-9)
    np.testing.assert_allclose([samples.yaw[1], samples.pitch[1]], [-180.0, -10.0], atol=1e-9)
    np.testing.assert_allclose([samples.yaw[2], samples.pitch[2]], [-120.0, 0.0], atol=1e-9)


def test_salient360_reader_takes_head_quaternions_as_the_euler_angles(tmp_path: Path):
    euler = read_salient360(_salient360_file(tmp_path / "euler.csv"))
    # The same head rotations as unit quaternions (w, x, y, z) of R = Ry(yaw) Rx(pitch) Rz(roll).
    lines = ["oculoTS,currFrame,cam_rotation_w,cam_rotation_x,cam_rotation_y,cam_rotation_z,rightGazeDir.x,rightGazeDir.y,rightGazeDir.z"]
    s = math.sin(math.radians(-10) / 2)
    c = math.cos(math.radians(-10) / 2)
    yaw_quarter = (math.cos(math.radians(45)), 0.0, math.sin(math.radians(45)), 0.0)
    # yaw 90 then pitch -10: q = qy * qx
    w1, x1, y1, z1 = yaw_quarter
    head_up_right = (w1 * c, w1 * s, y1 * c, -y1 * s)
    eye30 = (math.sin(math.radians(30)), 0.0, math.cos(math.radians(30)))
    for ts, frame, q, eye in ((4, 0, (1, 0, 0, 0), (0, 0, 1)), (8, 0, head_up_right, (0, 0, 1)), (16, 1, (1, 0, 0, 0), eye30)):
        lines.append(f"{ts}000000,{frame},{q[0]},{q[1]},{q[2]},{q[3]},{eye[0]},{eye[1]},{eye[2]}")
    quaternion = read_salient360(_write(tmp_path / "quaternion.csv", "\n".join(lines) + "\n"))
    np.testing.assert_allclose(quaternion.yaw, euler.yaw, atol=1e-9)
    np.testing.assert_allclose(quaternion.pitch, euler.pitch, atol=1e-9)


def test_salient360_reader_errors(tmp_path: Path):
    with pytest.raises(InputError, match="no timestamp column"):
        read_salient360(_write(tmp_path / "a.csv", "a,b\n1,2\n3,4\n"))
    with pytest.raises(InputError, match="no left eye direction columns"):
        read_salient360(_write(tmp_path / "b.csv", "oculoTS,cam_pitch,cam_yaw,cam_roll\n1,0,0,0\n2,0,0,0\n"), eye="left")


def test_salient360_real_recording_matches_the_toolbox_samples_and_fixations():
    """The shared real recording: our fixations against the Salient360! toolbox's own output."""
    samples = read_salient360(shared_path("gaze/rawDataDyn1.csv"))
    assert len(samples.time_s) == 4985  # 5150 rows - 1 previous-trial row - 164 invalid samples
    ours = identify_fixations(samples)
    with TOOLBOX_REFERENCE.open(newline="") as handle:
        theirs = list(csv.DictReader(handle))
    assert (len(ours), len(theirs)) == (45, 44)
    by_first = {int(r["first_sample"]): r for r in theirs}
    same = 0
    for fixation in ours:
        row = by_first.get(fixation.first)
        if row is None or int(row["last_sample"]) != fixation.last:
            continue
        yaw, pitch = sphere.normalised_to_angles(float(row["long"]), float(row["lat"]))
        distance = sphere.angular_distance(sphere.to_vectors(fixation.yaw, fixation.pitch), sphere.to_vectors(yaw, pitch))
        assert math.degrees(float(distance)) < 1e-6
        assert fixation.start_s == pytest.approx(float(row["start_s"]), abs=1e-6)
        assert fixation.end_s == pytest.approx(float(row["end_s"]), abs=1e-6)
        same += 1
    # 43 identical; the toolbox keeps a 20 ms fixation at the very start (its minimum-duration pass
    # never looks at a fixation that opens the recording), we keep two of 80.03 ms it measures as
    # just under 80 ms.
    assert same == 43


def test_vr_eyetracking_reader_counts_frames_from_one_and_the_bottom_left(tmp_path: Path):
    path = _write(tmp_path / "person1" / "video.txt", "0.0, 1, forward, 0.5, 0.5, eye, 0.75, 0.25\n0.1, 2, forward, 0.5, 0.5, eye, 0.5, 0.5\n")
    samples = read_vr_eyetracking(path, fps=25)
    assert samples.observer == "person1"
    np.testing.assert_array_equal(samples.frame, [0, 1])
    np.testing.assert_allclose(samples.time_s, [0.0, 0.04])
    np.testing.assert_allclose([samples.yaw[0], samples.pitch[0]], [90.0, -45.0])  # y from the bottom: 0.25 is below the horizon
    _write(tmp_path / "person2" / "video.txt", "0.0, 1, forward, 0.5, 0.5, eye, 0.5, 0.5\n")
    assert [s.observer for s in read_gaze([tmp_path / "person1", tmp_path / "person2"], "vr-eyetracking", fps=25)] == ["person1", "person2"]
    head = read_vr_eyetracking(path, fps=25, head_only=True)
    np.testing.assert_allclose(head.yaw, [0.0, 0.0])
    with pytest.raises(InputError, match="expected 8 comma-separated fields"):
        read_vr_eyetracking(_write(tmp_path / "bad.txt", "1, 2, 3\n"), fps=25)


def test_pvs_hm_reader_alternates_latitude_longitude_at_twice_the_frame_rate(tmp_path: Path):
    from scipy.io import savemat

    matrix = np.array([[10.0, 30.0, -5.0, -90.0], [11.0, 31.0, -6.0, -91.0], [12.0, 32.0, np.nan, np.nan]])
    savemat(tmp_path / "FULLdata_per_video_frame.mat", {"Dancing": matrix, "Other": np.zeros((2, 2))})
    first, second = read_pvs_hm(tmp_path / "FULLdata_per_video_frame.mat", "Dancing", fps=30)
    np.testing.assert_allclose(first.time_s, [0.0, 1 / 60, 2 / 60])
    np.testing.assert_allclose(first.pitch, [10.0, 11.0, 12.0])
    np.testing.assert_allclose(first.yaw, [-30.0, -31.0, -32.0])  # PVS-HM's longitude grows to the left
    assert len(second.time_s) == 2  # the NaN row is dropped
    np.testing.assert_allclose(second.yaw, [90.0, 91.0])
    with pytest.raises(InputError, match="has no matrix for video 'Nope'"):
        read_pvs_hm(tmp_path / "FULLdata_per_video_frame.mat", "Nope", fps=30)


def test_dsav360_reader_drops_the_known_erroneous_samples(tmp_path: Path):
    path = _write(
        tmp_path / "gaze.csv",
        "video,frame,u,v,id,t,fixation,valid_fix_classification\n"
        "1001,0,0.5,0.5,7,0,0,0\n1001,0,0.25,0.5,7,8,1,1\n1001,1,0.25,0.25,7,16,1,1\n1002,0,0.1,0.1,7,0,1,1\n1001,0,0.75,0.5,8,0,1,1\n",
    )
    first, second = read_dsav360(path, "1001")
    assert (first.observer, second.observer) == ("7", "8")
    np.testing.assert_allclose(first.yaw, [-90.0, -90.0])
    np.testing.assert_allclose(first.pitch, [0.0, 45.0])
    np.testing.assert_allclose(first.time_s, [0.0, 0.008])  # milliseconds
    np.testing.assert_array_equal(first.frame, [0, 1])
    with pytest.raises(InputError, match="lacks the column"):
        read_dsav360(_write(tmp_path / "x.csv", "video,frame,u\n1,2,3\n"))


def test_recordings_are_found_per_video(tmp_path: Path):
    from scipy.io import savemat

    from sstsal.gaze.readers import recordings_for

    _write(tmp_path / "plain" / "clipA" / "ann.csv", "time_s,yaw,pitch\n")
    _write(tmp_path / "plain" / "clipA" / "bob.csv", "time_s,yaw,pitch\n")
    _write(tmp_path / "plain" / "clipB.csv", "time_s,observer,yaw,pitch\n")
    assert [p.name for p in recordings_for(tmp_path / "plain", "clipA", "plain")] == ["ann.csv", "bob.csv"]
    assert [p.name for p in recordings_for(tmp_path / "plain", "clipB", "plain")] == ["clipB.csv"]
    assert recordings_for(tmp_path / "plain", "clipC", "plain") == []
    _write(tmp_path / "dsav" / "gaze.csv", "video,frame,u,v,id,t\n0012,1,0.5,0.5,1,0\n")
    assert len(recordings_for(tmp_path / "dsav", "0012", "d-sav360")) == 1
    assert len(recordings_for(tmp_path / "dsav", "12", "d-sav360")) == 1
    assert recordings_for(tmp_path / "dsav", "13", "d-sav360") == []
    (tmp_path / "pvs").mkdir()
    savemat(tmp_path / "pvs" / "all.mat", {"Dancing": np.zeros((2, 2))})
    assert len(recordings_for(tmp_path / "pvs", "Dancing", "pvs-hm")) == 1
    assert recordings_for(tmp_path / "pvs", "Guitar", "pvs-hm") == []


def test_read_gaze_checks_before_reading(tmp_path: Path):
    with pytest.raises(InputError, match="unknown gaze format"):
        read_gaze([tmp_path], "tobii")
    with pytest.raises(InputError, match="does not exist"):
        read_gaze([tmp_path / "missing.csv"], "plain")
    with pytest.raises(InputError, match="counts video frames"):
        read_gaze([tmp_path], "vr-eyetracking")
    with pytest.raises(InputError, match=r"holds no \*\.csv files"):
        read_gaze([tmp_path], "plain")


# --- fixations -----------------------------------------------------------------------------------


def _scanpath(segments: list[tuple[float, float, float]], rate: float = 250.0, observer: str = "o") -> GazeSamples:
    """Samples moving linearly between (yaw, pitch, seconds) way-points at ``rate`` Hz."""
    times, yaws, pitches = [], [], []
    t = 0.0
    for (y0, p0, _), (y1, p1, duration) in zip(segments[:-1], segments[1:]):
        n = max(1, int(round(duration * rate)))
        for k in range(n):
            times.append(t + k / rate)
            yaws.append(y0 + (y1 - y0) * k / n)
            pitches.append(p0 + (p1 - p0) * k / n)
        t += n / rate
    return GazeSamples(observer, np.array(times), np.array(yaws), np.array(pitches))


def test_ivt_finds_fixations_between_saccades():
    # fixate (0, 0) 300 ms, saccade of 30 deg in 40 ms (750 deg/s), fixate (30, 0) 300 ms
    samples = _scanpath([(0, 0, 0), (0, 0, 0.3), (30, 0, 0.04), (30, 0, 0.3)])
    fixations = identify_fixations(samples)
    assert len(fixations) == 2
    assert fixations[0].yaw == pytest.approx(0.0, abs=1e-9) and fixations[1].yaw == pytest.approx(30.0, abs=1e-9)
    assert fixations[0].start_s == 0.0 and fixations[0].end_s == pytest.approx(0.3)
    assert fixations[1].start_s == pytest.approx(0.34)


def test_ivt_velocity_is_angular_on_the_sphere():
    # 10 deg of yaw at pitch 60 are 5 deg on the sphere: 5 deg in 40 ms = 125 deg/s, above 120
    samples = _scanpath([(0, 60, 0), (10, 60, 0.04)], rate=100)
    velocity = angular_velocity(samples)
    assert velocity[0] == pytest.approx(math.degrees(sphere.angular_distance(
        sphere.to_vectors(0.0, 60.0), sphere.to_vectors(2.5, 60.0))) / 0.01)  # fmt: skip
    assert 120 < velocity[0] < 130


def test_ivt_drops_short_fixations_and_isolated_labels():
    # a 60 ms pause in the middle of a long saccade is not a fixation (minimum 80 ms)
    samples = _scanpath([(0, 0, 0), (0, 0, 0.2), (20, 0, 0.04), (20, 0, 0.06), (40, 0, 0.04), (40, 0, 0.2)])
    assert [round(f.yaw) for f in identify_fixations(samples)] == [0, 40]
    assert [round(f.yaw) for f in identify_fixations(samples, FixationSettings(min_duration_s=0.05))] == [0, 20, 40]
    # one fast sample in a fixation (a 0.6 deg step in 4 ms: 150 deg/s) does not split it
    noisy = _scanpath([(0, 0, 0), (0, 0, 0.4)])
    noisy.yaw[50:] += 0.6
    assert (angular_velocity(noisy) > 120).sum() == 1
    assert fixation_labels(noisy, FixationSettings()).all()
    assert len(identify_fixations(noisy)) == 1


def test_fixation_settings_are_checked():
    with pytest.raises(InputError, match="velocity threshold must be positive"):
        FixationSettings(velocity_threshold_deg_s=0).check()
    with pytest.raises(InputError, match="unknown fixation method"):
        FixationSettings(method="idt").check()


# --- maps and time alignment ----------------------------------------------------------------------


def test_gaussian_map_uses_angular_distance_on_the_sphere():
    height, width, sigma = 90, 180, 5.0
    saliency = gaussian_map(np.array([0.0]), np.array([60.0]), height, width, sigma)
    pixels = sphere.pixel_vectors(height, width)
    angle = np.degrees(sphere.angular_distance(pixels, sphere.to_vectors(0.0, 60.0)))
    expected = np.exp(-(angle**2) / (2 * sigma**2))
    np.testing.assert_allclose(saliency, np.where(angle < 6 * sigma - 1, expected, saliency), atol=1e-12)
    assert saliency[angle > 6 * sigma + 2].max() < 1e-7
    # at 60 deg latitude a blob spans twice as many columns as rows (planar Gaussians would not)
    row = int((90 - 60) / 180 * height)
    across = (saliency[row] > 0.5).sum()
    down = (saliency[:, width // 2] > 0.5).sum()
    assert across == pytest.approx(2 * down, abs=2)


def test_timeline_windows_cover_the_video():
    timeline = Timeline(fps=25.0, frame_count=10, numbers=(0, 3, 6, 9))
    np.testing.assert_allclose(timeline.windows(), [[0, 0.12], [0.12, 0.24], [0.24, 0.36], [0.36, 0.4]])


def _two_observers() -> list[GazeSamples]:
    # ann fixates (0, 0) for the first second then (90, 0); bob looks at (-90, 10) throughout
    ann = _scanpath([(0, 0, 0), (0, 0, 1.0), (90, 0, 0.1), (90, 0, 0.9)], observer="ann")
    bob = _scanpath([(-90, 10, 0), (-90, 10, 2.0)], observer="bob")
    return [ann, bob]


def test_ground_truth_assigns_fixations_to_the_frames_they_overlap():
    timeline = Timeline(fps=10.0, frame_count=20, numbers=tuple(range(0, 20, 5)))  # windows of 0.5 s
    truth = build_ground_truth("v", _two_observers(), timeline)
    observers = [[(f[0], round(f[1])) for f in frame.fixations] for frame in truth.frames]
    assert observers[0] == [("ann", 0), ("bob", -90)]
    assert sorted(observers[2]) == [("ann", 90), ("bob", -90)]
    maps = frame_maps(truth, MapSettings(64, 32, 3.0))
    assert set(maps) == {0, 5, 10, 15} and all(m.max() == pytest.approx(1.0) for m in maps.values())
    # shifted by an offset: the video had played 0.5 s when the recording started
    shifted = build_ground_truth("v", _two_observers(), Timeline(10.0, 25, tuple(range(0, 25, 5))),
                                 alignment=Alignment("time", offset_s=0.5))  # fmt: skip
    assert [f[0] for f in shifted.frames[0].fixations] == []
    assert sorted(f[0] for f in shifted.frames[1].fixations) == ["ann", "bob"]


def test_ground_truth_refuses_recordings_that_do_not_fit_the_video():
    timeline = Timeline(fps=10.0, frame_count=40, numbers=(0, 10, 20, 30))  # 4 s
    with pytest.raises(InputError, match="shorter than the video"):
        build_ground_truth("v", _two_observers(), timeline)
    with pytest.raises(InputError, match="longer than the video"):
        build_ground_truth("v", _two_observers(), Timeline(10.0, 10, (0, 5)))  # 1 s
    with pytest.raises(InputError, match="starts late"):
        build_ground_truth("v", _two_observers(), Timeline(10.0, 10, (0, 5)), alignment=Alignment("time", offset_s=1.0))
    with pytest.raises(InputError, match="needs a frame column"):
        build_ground_truth("v", _two_observers(), Timeline(10.0, 20, (0, 5)), alignment=Alignment("frame"))


# --- the command --------------------------------------------------------------------------------


def _plain_recording(path: Path) -> Path:
    lines = ["time_s,observer,yaw,pitch"]
    for samples in _two_observers():
        lines += [f"{t:.4f},{samples.observer},{y:.4f},{p:.4f}" for t, y, p in zip(samples.time_s, samples.yaw, samples.pitch)]
    return _write(path, "\n".join(lines) + "\n")


def test_cli_writes_the_layout_evaluate_reads(tmp_path: Path, capsys):
    gaze = _plain_recording(tmp_path / "gaze" / "clip.csv")
    out = tmp_path / "gt"
    code = main(["groundtruth", str(gaze), "--out", str(out), "--name", "clip", "--fps", "10", "--frame-count", "20",
                 "--size", "64x32", "--sigma", "4", "--export-npz", str(tmp_path / "clip.npz"),
                 "--export-salient360", str(tmp_path / "s360")])  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in (out / "clip").iterdir())
    assert names == [f"clip_{n:04d}.png" for n in range(0, 20, 1)]  # 10 fps: published sampling keeps every frame
    image = cv2.imread(str(out / "clip" / "clip_0000.png"), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.shape == (32, 64) and image.max() == 65535
    record = json.loads((out / "clip.json").read_text())
    assert record["alignment"]["mode"] == "time" and record["fixation"]["velocity_threshold_deg_s"] == 120.0
    assert record["map"] == {"width": 64, "height": 32, "sigma_deg": 4.0}
    # the ground truth as prediction: evaluate reads maps and fixations and finds them perfect
    assert main(["evaluate", "--pred", str(out / "clip"), "--gt", str(out / "clip"), "--fixations", str(out / "clip.csv"),
                 "--video", "clip", "--out", str(tmp_path / "m.csv")]) == 0  # fmt: skip
    with (tmp_path / "m.csv").open(newline="") as handle:
        mean = [r for r in csv.DictReader(handle) if r["frame"] == "mean"][0]
    assert float(mean["cc"]) == pytest.approx(1.0) and float(mean["nss"]) > 3
    stack = np.load(tmp_path / "clip.npz")
    assert stack["maps"].dtype == np.uint16 and stack["maps"].shape == (20, 32, 64)
    np.testing.assert_allclose(stack["times_s"], np.arange(20) / 10)
    np.testing.assert_array_equal(stack["maps"][3], cv2.imread(str(out / "clip" / "clip_0003.png"), cv2.IMREAD_UNCHANGED))
    binary = np.fromfile(tmp_path / "s360" / "clip_64x32x20_32b_salmap.bin", dtype=np.float32).reshape(20, 32, 64)
    np.testing.assert_allclose(binary[3], stack["maps"][3] / 65535, atol=1e-4)
    scanpath = (tmp_path / "s360" / "clip_ann_fixation.csv").read_text().splitlines()
    assert scanpath[0] == "Fix_index, long_Gaze, lat_Gaze, Fix_time_start, Fix_duration" and len(scanpath) == 3
    assert scanpath[1].startswith("0,0.50000000,0.50000000,0.0,")


def test_cli_on_the_real_salient360_recording(tmp_path: Path):
    out = tmp_path / "gt"
    code = main(["groundtruth", str(shared_path("gaze/rawDataDyn1.csv")), "--format", "salient360", "--out", str(out),
                 "--name", "porto", "--fps", "25", "--frame-count", "504", "--size", "128x64"])  # fmt: skip
    assert code == 0
    record = json.loads((out / "porto.json").read_text())
    assert record["alignment"]["mode"] == "frame"  # the file records the video frame shown
    assert record["observers"]["rawDataDyn1"]["fixations"] == 45
    assert any("previous trial" in n for n in record["observers"]["rawDataDyn1"]["notes"])
    with (out / "porto.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["video"] for r in rows} == {"porto"} and {r["observer"] for r in rows} == {"rawDataDyn1"}
    assert len({r["frame"] for r in rows}) == len(list((out / "porto").iterdir()))


def test_cli_errors_are_one_line_and_write_nothing(tmp_path: Path, capsys):
    gaze = _plain_recording(tmp_path / "clip.csv")
    out = tmp_path / "gt"
    code = main(["groundtruth", str(gaze), "--out", str(out), "--name", "clip", "--fps", "10", "--frame-count", "400"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the recording of observer ann spans") and "shorter than the video" in err[0]
    assert not out.exists()
    assert main(["groundtruth", str(gaze), "--out", str(out), "--name", "clip"]) == 2
    assert "give the video (--video) or its frame rate" in capsys.readouterr().err


# --- the signal before fixations: start, resampling, smoothing; frames as recorded -----------------

TOOLBOX_DYNAMIC_REFERENCE = Path(__file__).parent / "data" / "salient360_toolbox_dynamic_rawDataDyn1.csv"


def _shown(frames: list[int], rate: float = 250.0, fps: float = 25.0) -> np.ndarray:
    """The frame column of a recording at ``rate`` Hz of a headset that showed ``frames`` in turn,
    each for one frame period."""
    per_frame = int(round(rate / fps))
    return np.repeat(np.array(frames), per_frame)


def test_fixations_land_on_the_frames_the_headset_showed_when_it_repeats_and_skips_frames():
    # The headset stalls on frame 4 (shown twice: the video runs a frame late from then on), then
    # catches up by skipping frame 9; the observer looks at A while frames up to 6 are on screen
    # and at B from frame 7 on.
    frames = _shown([0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 10, 11])
    n = len(frames)
    time = np.arange(n) / 250.0
    on_b = frames >= 7
    yaw = np.where(on_b, 40.0, 0.0)
    switch = int(np.flatnonzero(on_b)[0])
    yaw[switch : switch + 5] = np.linspace(0.0, 40.0, 7)[1:-1]  # a 20 ms saccade as frame 7 appears
    samples = GazeSamples("o", time, yaw, np.zeros(n), frames)
    timeline = Timeline(25.0, 12, tuple(range(12)))

    def seen(truth) -> dict[int, list[int]]:
        return {f.number: sorted({round(x[1]) for x in f.fixations}) for f in truth.frames}

    by_frame = build_ground_truth("v", [samples], timeline)  # auto: the recorded frames
    assert by_frame.record["alignment"]["mode"] == "frame"
    assert seen(by_frame) == {**{k: [0] for k in range(7)}, **{k: [40] for k in range(7, 12)}}
    # By the clock and the nominal frame rate, frame 7 gets A, the gaze while frame 6 was on screen.
    assert seen(build_ground_truth("v", [samples], timeline, alignment=Alignment("time")))[7] == [0]
    # Resampled to 90 Hz, every sample shows a frame the headset reported (never the skipped 9),
    # and the fixations stay on the frames shown.
    resampled = prepare_samples(samples, SignalSettings(resample_hz=90.0))
    assert 9 not in set(resampled.frame.tolist()) and np.all(np.diff(resampled.frame) >= 0)
    assert seen(build_ground_truth("v", [resampled], timeline)) == seen(by_frame)


def test_start_frame_drops_what_came_before_and_needs_a_frame_column():
    frames = _shown([0, 0, 0, 1, 2, 3])
    samples = GazeSamples("o", np.arange(len(frames)) / 250.0, np.zeros(len(frames)), np.zeros(len(frames)), frames)
    started = prepare_samples(samples, SignalSettings(start_frame=1))
    assert started.frame[0] == 1 and len(started.time_s) == 30 and started.time_s[0] == 0.0
    assert any("started at frame 1: dropped 30 sample(s)" in n for n in started.notes)
    with pytest.raises(InputError, match="needs a recording with a frame column"):
        prepare_samples(GazeSamples("o", samples.time_s, samples.yaw, samples.pitch), SignalSettings(start_frame=1))
    with pytest.raises(InputError, match="never shows frame 9"):
        prepare_samples(samples, SignalSettings(start_frame=9))


def test_resampling_interpolates_head_and_eye_apart_and_keeps_the_rate():
    # A head turning at 30 deg/s reported at 90 Hz in a 250 Hz eye stream (the steps a Salient360!
    # file has), the eye still in the head: resampled, the gaze turns smoothly at 30 deg/s.
    time = np.arange(500) / 250.0
    head_time = np.floor(time * 90.0) / 90.0  # the head pose the engine last reported
    angle = np.radians(30.0 * head_time)
    head = np.zeros((500, 3, 3))
    head[:, 0, 0] = head[:, 2, 2] = np.cos(angle)
    head[:, 0, 2], head[:, 2, 0] = np.sin(angle), -np.sin(angle)
    head[:, 1, 1] = 1.0
    eye = np.tile([0.0, 0.0, 1.0], (500, 1))
    yaw, pitch = sphere.to_angles(np.einsum("nij,nj->ni", head, eye))
    stepped = GazeSamples("o", time, yaw, pitch, head=head, eye=eye)
    resampled = prepare_samples(stepped, SignalSettings(resample_hz=90.0))
    np.testing.assert_allclose(np.diff(resampled.time_s), 1 / 90.0, atol=1e-12)
    assert len(resampled.time_s) == int(np.floor(time[-1] * 90)) + 1
    # The poses reach the eye stream up to 4 ms late, so the resampled velocity keeps some jitter
    # (25-40 deg/s); sample by sample, the steps swing it between 0 and 80 deg/s.
    smooth, raw = angular_velocity(resampled)[3:-3], angular_velocity(stepped)
    assert np.mean(smooth) == pytest.approx(30.0, rel=0.02) and np.ptp(smooth) < 20 and np.ptp(raw) > 60


def test_velocity_smoothing_and_outliers():
    # A single fast sample (a tracker glitch) in a long fixation: dropped as a velocity outlier.
    samples = _scanpath([(0, 0, 0), (0, 0, 0.4)])
    samples.yaw[50] += 8.0
    kept = prepare_samples(samples, SignalSettings(outlier_sd=5.0))
    assert len(kept.time_s) == len(samples.time_s) - 2  # the sample before the jump and the jump itself
    assert len(identify_fixations(kept)) == 1
    # Savitzky-Golay smoothing of the velocity, window 9, order 2, as scipy computes it.
    from scipy.signal import savgol_filter

    settings = FixationSettings(smoothing_window=9, smoothing_order=2)
    np.testing.assert_allclose(smoothed_velocity(samples, settings), savgol_filter(angular_velocity(samples), 9, 2))
    with pytest.raises(InputError, match="odd number of samples above the order"):
        FixationSettings(smoothing_window=8).check()
    with pytest.raises(InputError, match="resampling rate"):
        SignalSettings(resample_hz=0.5).check()


def test_profiles_set_their_values_and_given_keys_override_them():
    from sstsal.gaze.groundtruth import PROFILES, GroundTruthSettings

    dynamic = GroundTruthSettings.from_config({"profile": "salient360-dynamic", "format": "salient360"})
    assert (dynamic.signal.start_frame, dynamic.signal.resample_hz, dynamic.signal.outlier_sd) == (1, 90.0, 5.0)
    assert (dynamic.fixation.smoothing_window, dynamic.fixation.smoothing_order, dynamic.alignment.mode) == (9, 2, "frame")
    assert dynamic.record()["profile"] == "salient360-dynamic"
    assert GroundTruthSettings.from_config({"profile": "salient360-dynamic", "sigma_deg": 3.0}).map.sigma_deg == 3.0
    default = GroundTruthSettings.from_config({})
    assert default == GroundTruthSettings() and default.signal == SignalSettings()  # today's defaults unchanged
    assert GroundTruthSettings.from_config({"profile": "pvs-hm"}).fixation.method == "samples"
    assert set(PROFILES) >= {"salient360-dynamic", "pvs-hm"}
    with pytest.raises(InputError, match="unknown processing profile 'toolbox'"):
        GroundTruthSettings.from_config({"profile": "toolbox"})


def _toolbox_dynamic(quaternions: str) -> list[tuple[float, float, int, int]]:
    with TOOLBOX_DYNAMIC_REFERENCE.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["quaternions"] == quaternions]
    out = []
    for r in rows:
        yaw, pitch = sphere.normalised_to_angles(float(r["long"]), float(r["lat"]))
        out.append((float(yaw), float(pitch), int(r["first_frame"]), int(r["last_frame"])))
    return out


def test_salient360_dynamic_profile_reproduces_the_toolbox_video_script():
    """``--profile salient360-dynamic`` against the toolbox's own dynamicStimuli.py processing of the
    shared recording (its head quaternions kept on one hemisphere, see docs/eye-tracking.md)."""
    from sstsal.gaze.groundtruth import GroundTruthSettings

    settings = GroundTruthSettings.from_config({"profile": "salient360-dynamic", "format": "salient360"})
    samples = prepare_samples(read_salient360(shared_path("gaze/rawDataDyn1.csv")), settings.signal)
    theirs = _toolbox_dynamic("continuous")
    truth = build_ground_truth("v", [samples], Timeline(25.0, 503, tuple(range(503))),
                               fixation_settings=settings.fixation, alignment=settings.alignment)  # fmt: skip
    assert abs(len(truth.fixations) - len(theirs)) <= 0.05 * len(theirs)

    def maps_of(points: dict[int, list[tuple[float, float]]]) -> dict[int, np.ndarray]:
        return {n: gaussian_map(np.array([p[0] for p in v]), np.array([p[1] for p in v]), 64, 128, 2.0) for n, v in points.items()}

    ours = maps_of({f.number: [(x[1], x[2]) for x in f.fixations] for f in truth.frames if f.fixations})
    points: dict[int, list[tuple[float, float]]] = {}
    for yaw, pitch, first, last in theirs:
        for n in range(first, last + 1):
            points.setdefault(n, []).append((yaw, pitch))
    toolbox = maps_of(points)

    def mean_cc(shift: int) -> float:
        frames = sorted(set(ours) | {n - shift for n in toolbox})
        return float(np.mean([metrics.cc(ours[n], toolbox[n + shift]) if n in ours and n + shift in toolbox else 0.0 for n in frames]))

    aligned = mean_cc(0)
    assert aligned >= 0.95
    # A one-frame offset either way (e.g. the toolbox's stack row r taken for frame r) is caught.
    assert mean_cc(1) < aligned - 0.1 and mean_cc(-1) < aligned - 0.1


def test_cli_profile_and_format_hint(tmp_path: Path, capsys):
    recording = shared_path("gaze/rawDataDyn1.csv")
    out = tmp_path / "gt"
    assert main(["groundtruth", str(recording), "--out", str(out), "--name", "porto", "--fps", "25", "--frame-count", "503"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "they are the salient360 format's columns, give --format salient360" in err[0]
    assert not out.exists()
    assert main(["groundtruth", str(recording), "--format", "salient360", "--profile", "salient360-dynamic", "--out", str(out),
                 "--name", "porto", "--fps", "25", "--frame-count", "503", "--sampling", "all", "--size", "64x32"]) == 0  # fmt: skip
    record = json.loads((out / "porto.json").read_text())
    assert record["settings"]["profile"] == "salient360-dynamic" and record["alignment"]["mode"] == "frame"
    notes = " ".join(record["observers"]["rawDataDyn1"]["notes"])
    assert "started at frame 1" in notes and "at 90 Hz" in notes
    assert not (out / "porto" / "porto_0000.png").exists()  # frame 0 (the player starting) is before the data


def test_dsav360_profile_uses_the_datasets_own_fixation_labels(tmp_path: Path):
    from sstsal.gaze.groundtruth import GroundTruthSettings

    # One participant at 125 Hz (t in ms) over 60 frames at 60 fps: the dataset labels samples 10-39
    # a fixation at u = 0.25 and samples 70-99 one at u = 0.75 (one of them not validly classified).
    lines = ["video,frame,u,v,id,t,fixation,valid_fix_classification"]
    for k in range(125):
        u = 0.25 if k < 60 else 0.75
        fixation = int(10 <= k < 40 or 70 <= k < 100)
        valid = int(not k == 80)
        lines.append(f"7,{int(k * 60 / 125)},{u},0.5,3,{k * 8},{fixation},{valid}")
    path = _write(tmp_path / "gaze.csv", "\n".join(lines) + "\n")
    (samples,) = read_dsav360(path, "7")
    assert samples.recorded_fixation.sum() == 59
    settings = GroundTruthSettings.from_config({"profile": "d-sav360", "format": "d-sav360"})
    assert settings.map.sigma_deg == 5.0
    found = identify_fixations(samples, settings.fixation)
    assert [(f.first, f.last, round(f.yaw)) for f in found] == [(10, 39, -90), (70, 79, 90), (81, 99, 90)]
    with pytest.raises(InputError, match="holds no fixation labels of its own"):
        identify_fixations(prepare_samples(samples, SignalSettings(resample_hz=90.0)), settings.fixation)


def test_a_plain_read_of_another_formats_file_names_that_format(tmp_path: Path):
    from sstsal.gaze.readers import format_of_columns

    assert format_of_columns(SALIENT360_HEADER.split(",")) == "salient360"
    assert format_of_columns(["video", "frame", "u", "v", "id", "t", "fixation"]) == "d-sav360"
    assert format_of_columns(["t", "yaw", "pitch"]) is None
    dsav = _write(tmp_path / "d.csv", "video,frame,u,v,id,t\n1,0,0.2,0.5,3,0\n")
    with pytest.raises(InputError, match="they are the d-sav360 format's columns, give --format d-sav360"):
        read_plain(dsav)
