"""Regenerate ``salient360_toolbox_rawDataDyn1.csv``: the Salient360! toolbox's fixations of the
shared recording ``gaze/rawDataDyn1.csv``, computed by the toolbox itself with its defaults
(right eye, I-VT at 120 deg/s, no filter, no resampling).

``tests/test_gaze.py`` compares ``sstsal groundtruth``'s fixations against them. The toolbox is
not a dependency: run this once in an environment that has it (Python 3.11: ``numpy==1.23.5
numba==0.57.1 numpy-quaternion scipy opencv-python-headless``), with a checkout of
github.com/David-Ef/salient360Toolbox (commit aff27d9)::

    python tests/data/make_salient360_reference.py /path/to/salient360Toolbox /path/to/shared/gaze/rawDataDyn1.csv
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(toolbox: str, recording: str) -> None:
    sys.path.insert(0, toolbox)
    from Salient360Toolbox import helper

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


if __name__ == "__main__":
    main(*sys.argv[1:3])
