"""Flow across the equirectangular seam: ``seam: pad`` versus ``seam: wrap`` on a yaw pan.

A camera turning about the vertical axis moves every pixel of an equirectangular frame by the
same number of columns, wrapping around at the left/right seam: rolling a frame of the test
clip by ``step`` columns per frame is such a pan, with an exactly known flow (u = step,
v = 0). The script prints the end-point error near the seam (the ``2 * step`` columns on each
side) and elsewhere, for each method and seam mode.

    python benchmarks/seam_pan.py --methods dis farneback
    python benchmarks/seam_pan.py --methods raft --checkpoint /path/to/raft-sintel.pth --width 1024

RAFT needs real weights for a meaningful number; with the random-weight fixture it only shows
that both modes run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sstsal.flow.engines import flow_pairs  # noqa: E402

SHARED = Path(os.environ.get("SSTSAL_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def clip_frame(index: int) -> np.ndarray:
    """Frame ``index`` of the shared test clip (1920x960), uint8 RGB."""
    import imageio_ffmpeg

    video = SHARED / "videos" / "testRoom1_1920Mono.mp4"
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    for i, data in enumerate(reader):
        if i == index:
            reader.close()
            return np.frombuffer(data, np.uint8).reshape(height, width, 3).copy()
    raise SystemExit(f"{video} has fewer than {index + 1} frames")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["dis", "farneback"], choices=["raft", "dis", "farneback"])
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 32], help="pan per frame, in pixels at --width")
    parser.add_argument("--frame", type=int, default=120, help="frame of the test clip to pan")
    parser.add_argument("--checkpoint", default=str(SHARED / "fixtures" / "raft-golden" / "raft-random-init.pth"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    image = clip_frame(args.frame)
    image = cv2.resize(image, (args.width, args.width // 2), interpolation=cv2.INTER_AREA)
    width = image.shape[1]
    print(f"yaw pan of frame {args.frame} of testRoom1_1920Mono.mp4 at {width}x{image.shape[0]}; EPE in pixels")
    print(f"{'method':>10} {'step':>5} {'seam':>5} {'EPE at seam':>11} {'EPE elsewhere':>13}")
    for method in args.methods:
        for step in args.steps:
            frames = [image, np.ascontiguousarray(np.roll(image, step, axis=1))]
            band = np.zeros(width, bool)
            band[: 2 * step] = band[width - 2 * step :] = True
            for seam in ("pad", "wrap"):
                (flow,) = flow_pairs(frames, method=method, seam=seam, checkpoint=args.checkpoint, device=args.device)
                error = np.hypot(flow[..., 0] - step, flow[..., 1])
                print(f"{method:>10} {step:>5} {seam:>5} {error[:, band].mean():11.3f} {error[:, ~band].mean():13.3f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
