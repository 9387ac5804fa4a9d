"""Agreement of ``sstsal groundtruth`` with the Salient360! toolbox on the same raw recording.

Runs the toolbox (an unmodified copy of github.com/David-Ef/salient360Toolbox at commit aff27d9,
fetched at run time from that pinned commit unless ``--toolbox`` names a checkout, and run in its
own Python environment: Python 3.11 with numpy==1.23.5, numba==0.57.1, numpy-quaternion, scipy and
opencv-python-headless) on the recording twice:

1. with ``loadRawData``'s defaults (right eye, I-VT at 120 deg/s, no filter, no resampling, sigma
   2 deg), against ``sstsal groundtruth``'s defaults: samples, fixations, the whole-recording map;
2. as its video script ``scripting/dynamicStimuli.py`` does (from the first sample showing frame
   1, resampled to 90 Hz, velocity outliers beyond 5 SD dropped, Savitzky-Golay window 9 order 2,
   I-VT at 120 deg/s, every sample given the frame the recording's frame column says), against
   ``--profile salient360-dynamic``: fixations and one map per video frame. Once as published,
   once with its head quaternions kept on one hemisphere: the toolbox turns the recorded Euler
   angles into quaternions one by one, so at every wrap of an angle past 360 deg the quaternion
   changes sign and its 90 Hz resampling (squad) swings the head the long way round.

    python benchmarks/salient360_agreement.py --toolbox-python /path/to/env/bin/python \\
        [--toolbox /path/to/salient360Toolbox] [--recording ../shared/gaze/rawDataDyn1.csv] [--all-dynamic]

Differences are expected where the two definitions differ (see docs/eye-tracking.md): the
toolbox keeps the previous trial's first row and never applies its minimum duration to a
fixation that opens the recording, fixations at exactly the minimum duration fall either way,
and its maps use the chord instead of the arc, a pixel grid spanning ``W - 1`` steps and a
truncated support.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from sstsal.evaluation import metrics
from sstsal.gaze import sphere
from sstsal.gaze.fixations import FixationSettings, fixation_labels, identify_fixations
from sstsal.gaze.groundtruth import GroundTruthSettings
from sstsal.gaze.maps import Alignment, Timeline, build_ground_truth, gaussian_map
from sstsal.gaze.readers import read_salient360
from sstsal.gaze.signal import prepare_samples
from sstsal.published import github_archive, resolve_url

TOOLBOX_REPO = "David-Ef/salient360Toolbox"
TOOLBOX_COMMIT = "aff27d9f55752452b4d8fdbac0aa0e6d8297eb48"

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

# The steps of the toolbox's scripting/dynamicStimuli.py, through its own functions. argv: toolbox,
# recording, output .npz, map size "HxW", "published" or "continuous" (quaternion signs).
RUN_TOOLBOX_DYNAMIC = """
import os, sys, builtins
os.environ["NUMBA_DISABLE_JIT"] = "1"
builtins.verbose = 0
import numpy as np
from scipy import interpolate
sys.path.insert(0, sys.argv[1])
from Salient360Toolbox import helper
from Salient360Toolbox.processing import preprocess
if sys.argv[5] == "continuous":
    published = preprocess.convertEulerToQuat
    def continuous(data):
        published(data)
        dots = np.sum(data[1:, :4] * data[:-1, :4], axis=1)
        data[1:, :4] *= np.cumprod(np.where(dots < 0, -1.0, 1.0))[:, None]
    preprocess.convertEulerToQuat = continuous
path = sys.argv[2]
frames = np.loadtxt(path, delimiter=",", usecols=[0, 2], skiprows=1)
data_range = [np.where(frames[:, 1] == 1)[0][0], frames.shape[0]]
frames = frames[slice(*data_range)]
frames[:, 0] = (frames[:, 0] - frames[0, 0]) / 1e6
gaze, fix, label, keep, velocity = helper.loadRawData(path, data_range=data_range, return_keep=True, return_label=True,
    return_velocity=True, eye="R", tracking="HE", resample=90, filter={"name": "savgol", "params": {"win": 9, "poly": 2}},
    parser={"name": "I-VT", "params": {"threshold": 120}})
frame = interpolate.griddata(frames[:, 0], frames[:, 1], gaze[:, 9], method="linear").astype(int)
dim = [int(frame.max())] + [int(v) for v in sys.argv[4].split("x")]
with __import__("tempfile").TemporaryDirectory() as tmp:
    stack = np.fromfile(helper.getSaliencyMap(fix[:, [2, 3, 4, 0, 1, 10, 11]], dim, "dyn", path_save=tmp, gauss_sigma=2,
                        time_cut=frame, force_generate=True), dtype=np.float32).reshape(dim)
np.savez(sys.argv[3], gaze=gaze, fix=fix, label=label, frame=frame, maps=stack)
"""


def fetch_toolbox(into: Path) -> Path:
    """The toolbox at the pinned commit, from GitHub (or ``SSTSAL_UPSTREAM``): its code and raw gaze."""
    url = resolve_url(github_archive(TOOLBOX_REPO, TOOLBOX_COMMIT))
    print(f"fetching {url}", file=sys.stderr)
    tarball = into / "toolbox.tar.gz"
    with urllib.request.urlopen(url, timeout=300) as response, open(tarball, "wb") as out:
        out.write(response.read())
    top = f"salient360Toolbox-{TOOLBOX_COMMIT}"
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith((f"{top}/Salient360Toolbox/", f"{top}/data/raw_gaze/"))]
        tar.extractall(into, members=members, filter="data")
    tarball.unlink()
    return into / top


def run_toolbox(python: str, script: str, *args: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "toolbox.npz"
        subprocess.run([python, "-c", script, args[0], args[1], str(out), *args[2:]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return dict(np.load(out))


def static_agreement(args: argparse.Namespace, toolbox_dir: Path) -> None:
    """``loadRawData``'s defaults against ``sstsal groundtruth``'s."""
    toolbox = run_toolbox(args.toolbox_python, RUN_TOOLBOX, str(toolbox_dir), args.recording)
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


def frame_ccs(ours: dict[int, np.ndarray], theirs: dict[int, np.ndarray], shift: int = 0) -> np.ndarray:
    """CC of our map of frame n and theirs of frame n + shift, over the frames where either has one
    (0 where only one has)."""
    frames = sorted(set(ours) | {n - shift for n in theirs})
    out = []
    for n in frames:
        a, b = ours.get(n), theirs.get(n + shift)
        out.append(0.0 if a is None or b is None else metrics.cc(a, b))
    return np.array(out)


def dynamic_agreement(args: argparse.Namespace, toolbox_dir: Path, recording: str, quaternions: str, profile: str | None) -> dict:
    """``scripting/dynamicStimuli.py``'s processing against ``--profile salient360-dynamic`` (or our defaults)."""
    width, height = args.size
    toolbox = run_toolbox(args.toolbox_python, RUN_TOOLBOX_DYNAMIC, str(toolbox_dir), recording, f"{height}x{width}", quaternions)
    gaze, fix, frame = toolbox["gaze"], toolbox["fix"], toolbox["frame"]
    settings = GroundTruthSettings.from_config({"profile": profile, "format": "salient360"})
    samples = prepare_samples(read_salient360(recording), settings.signal)
    ours = identify_fixations(samples, settings.fixation)
    labels = fixation_labels(samples, settings.fixation)
    # The toolbox's sample times (ms) count from the first sample showing frame 1; ours from the
    # first sample kept (the same one with the profile).
    origin = float(samples.time_s[np.flatnonzero(samples.frame >= 1)[0]])
    their_time = gaze[:, 9] / 1000.0 + origin
    their_start = their_time[fix[:, 10].astype(int)]
    their_end = their_time[np.minimum(fix[:, 11].astype(int) + 1, len(gaze) - 1)]
    step = 1.0 / 90.0  # the toolbox's sample interval
    # Same fixation: start and end within one sample (the two 90 Hz grids drift apart by about a sample over 20 s).
    identical = sum(1 for f in ours if np.any((np.abs(their_start - f.start_s) <= 1.01 * step) & (np.abs(their_end - f.end_s) <= 1.01 * step)))
    their_labels = np.zeros(len(gaze), dtype=bool)
    for f in fix:
        their_labels[int(f[10]) : int(f[11]) + 1] = True
    nearest = np.clip(np.searchsorted(samples.time_s, their_time - step / 2), 0, len(samples.time_s) - 1)
    alike = float((labels[nearest] == their_labels).mean())
    # One map per video frame: ours by frame number, the toolbox's stack row r is frame r + 1.
    last = max(int(frame.max()), int(samples.frame.max()))
    truth = build_ground_truth("v", [samples], Timeline(args.fps, last + 1, tuple(range(last + 1))),
                               fixation_settings=settings.fixation, alignment=settings.alignment)  # fmt: skip
    our_maps = {f.number: gaussian_map(np.array([x[1] for x in f.fixations]), np.array([x[2] for x in f.fixations]), height, width, 2.0)
                for f in truth.frames if f.fixations}  # fmt: skip
    stack = toolbox["maps"]
    their_maps = {r + 1: stack[r].astype(np.float64) for r in range(len(stack)) if stack[r].max() > 0}
    fy, fp = sphere.normalised_to_angles(fix[:, 0], fix[:, 1])
    first, final = frame[fix[:, 10].astype(int)], frame[fix[:, 11].astype(int)]
    drawn = {}
    for n in their_maps:
        hit = (first <= n) & (final >= n)
        if hit.any():
            drawn[n] = gaussian_map(fy[hit], fp[hit], height, width, 2.0)
    result = {
        "recording": Path(recording).name, "quaternions": quaternions, "ours": len(ours), "toolbox": len(fix),
        "identical": identical, "alike": alike, "cc": frame_ccs(our_maps, their_maps),
        "cc_drawn": frame_ccs(our_maps, drawn), "cc_minus": frame_ccs(our_maps, their_maps, -1), "cc_plus": frame_ccs(our_maps, their_maps, 1),
    }  # fmt: skip
    cc = result["cc"]
    print(f"{result['recording']} ({quaternions} quaternions, ours {'--profile ' + profile if profile else 'defaults'}): fixations ours {len(ours)}, toolbox {len(fix)} "
          f"({100 * (len(ours) - len(fix)) / len(fix):+.1f} %), identical (start and end within a sample) {identical}; samples labelled "
          f"alike {100 * alike:.1f} %; per-frame CC over {len(cc)} frames with fixations: mean {cc.mean():.4f}, median "
          f"{np.median(cc):.4f}, min {cc.min():.4f}; with our drawing of its fixations mean {result['cc_drawn'].mean():.4f}; "
          f"its frames shifted by -1 / +1: mean {result['cc_minus'].mean():.4f} / {result['cc_plus'].mean():.4f}")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toolbox", help="checkout of salient360Toolbox (the folder holding Salient360Toolbox/); default: fetched")
    parser.add_argument("--toolbox-python", required=True, help="a Python with the toolbox's dependencies")
    parser.add_argument("--fps", type=float, default=25.0, help="the video's frame rate (1_PortoRiverside: 25)")
    parser.add_argument("--frame-count", type=int, default=504, help="the video's length in frames")
    parser.add_argument("--recording", default=str(Path(__file__).resolve().parents[2] / "shared" / "gaze" / "rawDataDyn1.csv"))
    parser.add_argument("--size", type=lambda t: tuple(int(v) for v in t.split("x")), default=(500, 250), metavar="WxH",
                        help="per-frame map size of the dynamic comparison (default 500x250)")  # fmt: skip
    parser.add_argument("--all-dynamic", action="store_true", help="also the toolbox's rawDataDyn2.csv and rawDataDyn3.csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        toolbox_dir = Path(args.toolbox) if args.toolbox else fetch_toolbox(Path(tmp))
        print("== loadRawData's defaults against sstsal groundtruth's defaults")
        static_agreement(args, toolbox_dir)
        print("== scripting/dynamicStimuli.py against --profile salient360-dynamic")
        recordings = [args.recording]
        if args.all_dynamic:
            recordings += [str(toolbox_dir / "data" / "raw_gaze" / f"rawDataDyn{i}.csv") for i in (2, 3)]
        for quaternions, profile in (("published", None), ("published", "salient360-dynamic"), ("continuous", "salient360-dynamic")):
            results = [dynamic_agreement(args, toolbox_dir, r, quaternions, profile) for r in recordings]
            if len(results) > 1:
                cc = np.concatenate([r["cc"] for r in results])
                print(f"all ({quaternions}, {profile or 'defaults'}): fixations ours {sum(r['ours'] for r in results)}, toolbox "
                      f"{sum(r['toolbox'] for r in results)}; per-frame CC mean {cc.mean():.4f}, min {cc.min():.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
