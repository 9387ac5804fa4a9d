"""What saliency-driven encoding buys: ROI against uniform at the same file size, on real 360-degree clips.

For every clip: SST-Sal maps by the by-hand steps (``sstsal extract``, ``flow --method dis``,
``predict --save-raw``), ``tiles.csv`` (1 s segments, equirect:4x8), then per encoder the two
encodes of :func:`sstsal.streaming.encoding.encode_video` (uniform two-pass at ``--bitrate``, ROI
searched to the same size), and their quality against the source (:mod:`sstsal.streaming.quality`):
WS-PSNR over the sphere, WS-PSNR over the most salient 20 % of it, PSNR of 100x90-degree viewports
along the director's path and at 8 fixed random directions. The regions and the path come from
the predicted maps and, where ``--ground-truth DIR`` holds ``DIR/<clip>/`` maps (the workflow's
``ground_truth`` layout, or ``sstsal groundtruth --out DIR``), from the ground truth as well, so the
gain is not only measured by the model that steered it. Prints one Markdown table.

The clips (default): the first ``--seconds`` of the test clip (testRoom1_1920Mono.mp4, mono) and of
Google VR SDK's congo.mp4 (top-bottom stereo, eyes stored squeezed; its top eye is taken and
stretched to 2:1), from the test data (tests/testdata.py: SSTSAL_SHARED or ../shared, its upstream/
copy of the GitHub files), each made near-lossless (x264 CRF 10) first: that is the source.

    python benchmarks/bench_encoding.py                       # both clips, libx264 and libx265
    python benchmarks/bench_encoding.py --encodes libx264:viewport --width 512 --bitrate 300
    python benchmarks/bench_encoding.py --ground-truth results/ground_truth
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
CONGO = "upstream/googlevr/gvr-android-sdk/raw/22bfd77050c8607ef3bd1c60993c066b5a722c46/samples/sdk-simplevideowidget/src/main/assets/congo.mp4"
LABELS = {"ws_psnr": "WS-PSNR sphere", "salient_ws_psnr": "WS-PSNR top 20 %", "director_psnr": "viewport, director",
          "random_psnr": "viewport, random"}  # fmt: skip


def sstsal(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sstsal", *args], check=True, cwd=REPO, stdout=sys.stderr)  # the table alone on stdout


def prepared(source: Path, out: Path, seconds: float, *, top_eye: bool = False) -> Path:
    """The first ``seconds`` of a clip, near-lossless (x264 CRF 10); with ``top_eye`` the top eye of a
    top-bottom stereo file, stretched back to 2:1 as a player maps it."""
    from sstsal.media.video import ffmpeg_exe

    vf = ["-vf", "crop=iw:ih/2:0:0,scale=iw:iw/2:flags=lanczos"] if top_eye else []
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-t", f"{seconds:g}", *vf,
                    "-c:v", "libx264", "-crf", "10", "-preset", "fast", "-c:a", "aac", str(out)], check=True)  # fmt: skip
    return out


def predicted_maps(video: Path, work: Path) -> Path:
    frames, flow, maps = work / "frames", work / "flow", work / "maps"
    sstsal("extract", str(video), "--out", str(frames))
    sstsal("flow", "--frames", str(frames), "--out", str(flow), "--method", "dis")
    sstsal("predict", "--frames", str(frames), "--flow", str(flow), "--out", str(maps), "--save-raw")
    return maps / "raw.npz"


def main() -> int:
    from testdata import data_root

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="*", type=Path, help="mono equirectangular clips (default: the two above)")
    parser.add_argument("--encodes", default="libx264:viewport,libx265:viewport,libx264:share",
                        help="ENCODER:STEER,... (encode.encoder and encode.steer of each ROI encode)")  # fmt: skip
    parser.add_argument("--width", type=int, default=768, help="encode width (default 768)")
    parser.add_argument("--seconds", type=float, default=6.0, help="the first seconds of each clip (default 6)")
    parser.add_argument("--bitrate", type=float, default=400, help="uniform encode's kbit/s (default 400)")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--strength", type=float, default=6.0)
    parser.add_argument("--ground-truth", type=Path, help="folder with <clip>/ ground-truth maps")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")
    args = parser.parse_args()

    from sstsal.logs import configure_logging
    from sstsal.media.video import probe_video
    from sstsal.streaming.encoding import EncodeSettings, encode_size, encode_video
    from sstsal.streaming.quality import METRICS, compare_encodes
    from sstsal.streaming.segments import video_segments
    from sstsal.streaming.tiles import TileSettings, write_tiles

    configure_logging()
    root = data_root()
    os.environ.setdefault("SSTSAL_MODELS", str(root / "models"))
    results, notes = [], []
    with tempfile.TemporaryDirectory(prefix="bench-encoding-") as tmp:
        tmp = Path(tmp)
        given = args.clips or [root / "videos" / "testRoom1_1920Mono.mp4", root / CONGO]
        clips = [prepared(c, tmp / f"{c.stem}.mp4", args.seconds, top_eye=c.name == "congo.mp4") for c in given]
        for clip in clips:
            name = "congo (top eye)" if clip.name == "congo.mp4" else clip.stem
            work = tmp / clip.stem
            work.mkdir()
            info = probe_video(clip)
            raw = predicted_maps(clip, work)
            write_tiles(raw, work / "tiles.csv", fps=info.fps, frame_count=info.frame_count, settings=TileSettings())
            segments = video_segments(info.frame_count, info.fps, 1.0)
            truth = args.ground_truth / clip.stem if args.ground_truth else None
            sources = {"predicted": raw}
            if truth is not None and truth.is_dir():
                sources["ground truth"] = truth
            else:
                notes.append(f"{name}: no ground-truth maps (no eye-tracking recording of this clip exists in the test data)")
            for run in args.encodes.split(","):
                encoder, _, steer = run.partition(":")
                settings = EncodeSettings(encoder=encoder, preset=args.preset, bitrate_kbps=args.bitrate,
                                          strength=args.strength, steer=steer or "viewport", width=args.width)  # fmt: skip
                out = work / run.replace(":", "-")
                record = encode_video(clip, work / "tiles.csv", out, settings=settings, info=info)
                encodes = {"uniform": out / "uniform.mp4", "roi": out / "roi.mp4"}
                for maps_name, source in sources.items():
                    quality = compare_encodes(clip, info, encodes, source, segments, size=encode_size(info, args.width))
                    results.append({"clip": name, "encoder": encoder, "steer": settings.steer, "maps": maps_name, "duration_s": info.duration,
                                    "kbps": record["video_kbps"], "size_ratio": record["size_ratio"],
                                    "file_bytes": record["file_bytes"], "quality": quality,
                                    "mean_abs_qp_offset": round(sum(abs(v) for seg in record["segments"] for v in seg["qp_offsets"].values())
                                                                / max(1, sum(len(seg["qp_offsets"]) for seg in record["segments"])), 2)})  # fmt: skip
                    print(json.dumps(results[-1]), file=sys.stderr)
    print(f"The first {args.seconds:g} s of each clip, encoded at {args.width}x{args.width // 2}, 1 s segments, preset {args.preset}, strength {args.strength:g} QP, "
          f"uniform two-pass at {args.bitrate:g} kbit/s; dB, ROI minus uniform in brackets.\n")  # fmt: skip
    head = ["clip", "encoder", "steer", "regions from", "kbit/s (uniform / ROI)", "size ROI/uniform", "mean abs QP offset"] + [LABELS[m] for m in METRICS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        q = r["quality"]
        cells = [r["clip"], r["encoder"], r["steer"], r["maps"], f"{r['kbps']['uniform']:.0f} / {r['kbps']['roi']:.0f}", f"{r['size_ratio']:.4f}", f"{r['mean_abs_qp_offset']:.1f}"]
        cells += [f"{q['uniform'][m]:.2f} / {q['roi'][m]:.2f} ({q['roi'][m] - q['uniform'][m]:+.2f})" for m in METRICS]
        print("| " + " | ".join(cells) + " |")
    for note in notes:
        print(f"\n{note}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
