"""Agreement of ``sstsal groundtruth`` with the Salient360! toolbox on the same raw recording.

Runs the toolbox (an unmodified checkout of github.com/David-Ef/salient360Toolbox, in its own
Python environment: it needs numpy<1.24, numba and numpy-quaternion) on the recording with its
defaults (right eye, I-VT at 120 deg/s, no filter, no resampling, sigma 2 deg), then prints how
close our samples, fixations and the whole-recording saliency map are to its:

    python benchmarks/salient360_agreement.py --toolbox /path/to/salient360Toolbox \\
        --toolbox-python /path/to/env/bin/python [--recording ../shared/gaze/rawDataDyn1.csv]

Differences are expected where the two definitions differ (see docs/eye-tracking.md): the
toolbox keeps the previous trial's first row and never applies its minimum duration to a
fixation that opens the recording, fixations at exactly the minimum duration fall either way,
and its maps use the chord instead of the arc, a pixel grid spanning ``W - 1`` steps and a
truncated support.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from sstsal.evaluation import metrics
from sstsal.gaze import sphere
from sstsal.gaze.fixations import FixationSettings, fixation_labels, identify_fixations
from sstsal.gaze.maps import Alignment, Timeline, build_ground_truth, gaussian_map
from sstsal.gaze.readers import read_salient360

RUN_TOOLBOX = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from Salient360Toolbox import helper
gaze, fix = helper.loadRawData(sys.argv[2], eye="R", tracking="HE", resample=0,
                               filter={"name": "None", "params": None},
                               parser={"name": "I-VT", "params": {"threshold": 120}})
saliency = helper.getSaliencyMap(fix[:, [2, 3, 4, 0, 1]], np.array([512, 1024]), "tb", gauss_sigma=2,
                                 force_return_data=True, force_generate=True)
lon = np.arctan2(gaze[:, 0], gaze[:, 1]) / (2 * np.pi) - .25
lon[lon < 0] += 1
lat = 1 - (np.arcsin(gaze[:, 2]) / np.pi + .5)
np.savez(sys.argv[3], gaze=gaze, fix=fix, map=saliency, lon=lon, lat=lat)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toolbox", required=True, help="checkout of salient360Toolbox (the folder holding Salient360Toolbox/)")
    parser.add_argument("--toolbox-python", required=True, help="a Python with the toolbox's dependencies")
    parser.add_argument("--fps", type=float, default=25.0, help="the video's frame rate (1_PortoRiverside: 25)")
    parser.add_argument("--frame-count", type=int, default=504, help="the video's length in frames")
    parser.add_argument("--recording", default=str(Path(__file__).resolve().parents[2] / "shared" / "gaze" / "rawDataDyn1.csv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "toolbox.npz"
        subprocess.run([args.toolbox_python, "-c", RUN_TOOLBOX, args.toolbox, args.recording, str(out)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        toolbox = dict(np.load(out))
    gaze, fix = toolbox["gaze"], toolbox["fix"]
    samples = read_salient360(args.recording)
    # The toolbox keeps the previous trial's first row: compare from its second sample on.
    their_yaw, their_pitch = sphere.normalised_to_angles(toolbox["lon"][1:], toolbox["lat"][1:])
    difference = np.degrees(sphere.angular_distance(sphere.to_vectors(samples.yaw, samples.pitch),
                                                    sphere.to_vectors(their_yaw, their_pitch)))  # fmt: skip
    print(f"samples: ours {len(samples.yaw)}, toolbox {len(gaze) - 1} (+1 row of the previous trial); "
          f"direction difference median {np.median(difference):.1e} deg, max {difference.max():.1e} deg")  # fmt: skip
    # Head direction: the toolbox's head-only mode against ours (--eye head) on the same samples.
    head = read_salient360(args.recording, eye="head")
    index = np.searchsorted(head.time_s, samples.time_s)
    their_head = gaze[1:, 6:9] / np.linalg.norm(gaze[1:, 6:9], axis=1, keepdims=True)
    their_head_pitch = np.degrees(np.arcsin(their_head[:, 2]))
    print(f"head pitch: ours + toolbox's = {np.abs(head.pitch[index] + their_head_pitch).max():.1e} deg at most (opposite signs); "
          f"gaze minus head sd {np.std(samples.pitch - head.pitch[index]):.1f} deg (ours), "
          f"{np.std(samples.pitch - their_head_pitch):.1f} deg (toolbox)")  # fmt: skip
    ours = identify_fixations(samples)
    labels = fixation_labels(samples, FixationSettings())
    their_labels = np.zeros(len(gaze), dtype=bool)
    for f in fix:
        their_labels[int(f[10]) : int(f[11]) + 1] = True
    identical = sum(1 for f in ours if any(int(t[10]) - 1 == f.first and int(t[11]) - 1 == f.last for t in fix))
    print(f"fixations: ours {len(ours)}, toolbox {len(fix)}, identical (same samples) {identical}; "
          f"samples labelled alike {100 * (labels == their_labels[1:]).mean():.2f} %")  # fmt: skip
    their_map = toolbox["map"].astype(np.float64)
    our_map = gaussian_map(np.array([f.yaw for f in ours]), np.array([f.pitch for f in ours]), 512, 1024, 2.0)
    fy, fp = sphere.normalised_to_angles(fix[:, 0], fix[:, 1])
    drawn = gaussian_map(fy, fp, 512, 1024, 2.0)
    for name, ours_map in (("whole-recording map, end to end", our_map), ("our drawing of the toolbox's fixations", drawn)):
        print(f"{name}: CC {metrics.cc(ours_map, their_map):.4f}, SIM {metrics.sim(ours_map, their_map):.4f}, "
              f"KLD {metrics.kld(ours_map, their_map):.4f}")  # fmt: skip
    # Per sampled frame (published sampling, time alignment: the toolbox knows no frames), maps of
    # 256x128 from our fixations and from the toolbox's, assigned to frames by the same rule.
    timeline = Timeline(args.fps, args.frame_count, tuple(range(0, args.frame_count, 3)))
    truth = build_ground_truth("v", [samples], timeline, alignment=Alignment("time", tolerance_s=1.0))
    windows = timeline.windows()
    start_ms = gaze[1, 9]
    their_start, their_end = (fix[:, 12] - start_ms) / 1000, (fix[:, 13] - start_ms) / 1000
    ccs, same = [], 0
    for index, frame in enumerate(truth.frames):
        hit = (their_start < windows[index, 1]) & (their_end > windows[index, 0])
        if not frame.fixations and not hit.any():
            same += 1
            continue
        if not frame.fixations or not hit.any():
            ccs.append(0.0)
            continue
        a = gaussian_map(np.array([f[1] for f in frame.fixations]), np.array([f[2] for f in frame.fixations]), 128, 256, 2.0)
        b = gaussian_map(fy[hit], fp[hit], 128, 256, 2.0)
        ccs.append(metrics.cc(a, b))
    ccs = np.array(ccs)
    print(f"per-frame maps ({len(truth.frames)} frames, {same} without fixations in both): CC = 1.0000 on "
          f"{(ccs > 0.99995).sum()} of {len(ccs)} frames with fixations, mean {ccs.mean():.4f}, min {ccs.min():.4f}")


if __name__ == "__main__":
    main()
