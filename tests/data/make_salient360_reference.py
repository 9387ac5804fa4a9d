"""Regenerate the Salient360! toolbox's fixations of the shared recording ``gaze/rawDataDyn1.csv``,
computed by the toolbox itself:

- ``salient360_toolbox_rawDataDyn1.csv``: with ``loadRawData``'s defaults (right eye, I-VT at
  120 deg/s, no filter, no resampling);
- ``salient360_toolbox_dynamic_rawDataDyn1.csv``: as its video script ``scripting/dynamicStimuli.py``
  does (from the first sample showing frame 1, 90 Hz, velocity outliers beyond 5 SD dropped,
  Savitzky-Golay window 9 order 2 on the velocity, I-VT at 120 deg/s, frames from the recording's
  frame column), once as published and once with its head quaternions kept on one hemisphere
  (``quaternions`` column: ``published`` or ``continuous``; docs/eye-tracking.md says why).

``tests/test_gaze.py`` compares ``sstsal groundtruth``'s fixations against them. The toolbox is
not a dependency: run this once in an environment that has it (Python 3.11: ``numpy==1.23.5
numba==0.57.1 numpy-quaternion scipy opencv-python-headless``), with a checkout of
github.com/David-Ef/salient360Toolbox (commit aff27d9)::

    python tests/data/make_salient360_reference.py /path/to/salient360Toolbox /path/to/shared/gaze/rawDataDyn1.csv
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def static(helper, recording: str) -> None:
    gaze, fixations = helper.loadRawData(recording, eye="R", tracking="HE", resample=0,
                                         filter={"name": "None", "params": None},
                                         parser={"name": "I-VT", "params": {"threshold": 120}})  # fmt: skip
    start_ms = gaze[1, 9]  # the toolbox keeps the previous trial's first row: times from the second
    lines = ["long,lat,start_s,end_s,first_sample,last_sample"]
    for f in fixations:
        # sample indices count from the second row (the first one belongs to a previous trial)
        lines.append(f"{f[0]:.10f},{f[1]:.10f},{(f[12] - start_ms) / 1000:.6f},{(f[13] - start_ms) / 1000:.6f},{int(f[10]) - 1},{int(f[11]) - 1}")
    out = Path(__file__).with_name("salient360_toolbox_rawDataDyn1.csv")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(fixations)} fixations to {out}")


def dynamic(helper, recording: str) -> None:
    import numpy as np
    from Salient360Toolbox.processing import preprocess
    from scipy import interpolate

    published = preprocess.convertEulerToQuat

    def continuous(data):
        published(data)
        dots = np.sum(data[1:, :4] * data[:-1, :4], axis=1)
        data[1:, :4] *= np.cumprod(np.where(dots < 0, -1.0, 1.0))[:, None]

    lines = ["quaternions,long,lat,first_frame,last_frame,start_s,end_s"]
    for name, convert in (("published", published), ("continuous", continuous)):
        preprocess.convertEulerToQuat = convert
        frames = np.loadtxt(recording, delimiter=",", usecols=[0, 2], skiprows=1)
        data_range = [int(np.where(frames[:, 1] == 1)[0][0]), frames.shape[0]]
        frames = frames[slice(*data_range)]
        frames[:, 0] = (frames[:, 0] - frames[0, 0]) / 1e6
        gaze, fixations, _ = helper.loadRawData(recording, data_range=data_range, return_keep=True, eye="R", tracking="HE",
                                                resample=90, filter={"name": "savgol", "params": {"win": 9, "poly": 2}},
                                                parser={"name": "I-VT", "params": {"threshold": 120}})  # fmt: skip
        frame = interpolate.griddata(frames[:, 0], frames[:, 1], gaze[:, 9], method="linear").astype(int)
        for f in fixations:
            first, last = int(f[10]), int(f[11])
            lines.append(f"{name},{f[0]:.10f},{f[1]:.10f},{frame[first]},{frame[last]},{f[12] / 1000:.6f},{f[13] / 1000:.6f}")
        print(f"{name} quaternions: {len(fixations)} fixations")
    preprocess.convertEulerToQuat = published
    out = Path(__file__).with_name("salient360_toolbox_dynamic_rawDataDyn1.csv")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main(toolbox: str, recording: str) -> None:
    os.environ["NUMBA_DISABLE_JIT"] = "1"  # as the toolbox's scripts run it
    sys.path.insert(0, toolbox)
    import builtins

    builtins.verbose = 0
    from Salient360Toolbox import helper

    static(helper, recording)
    dynamic(helper, recording)


if __name__ == "__main__":
    main(*sys.argv[1:3])
