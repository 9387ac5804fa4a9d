"""Evaluate a folder of predicted saliency maps against eye-tracking ground truth.

Predictions and ground-truth maps are paired by *frame number*: the digits at the end of
the file stem, so ``001_0042.png`` (``sstsal predict`` output, workflow frames) and ``0042.png``
(the published ``saliency_maps/<video>/`` layout) are both frame 42. Fixations come from a
CSV with a ``frame`` column and either ``yaw,pitch`` (degrees: yaw 0 at the image centre,
positive to the right, pitch +90 at the top) or ``x,y`` (pixels: column and row, in the
ground-truth map's resolution unless the optional ``width,height`` columns give the size they
refer to). An optional ``video`` column lets one CSV hold several videos.

Predictions are resized (bilinear) to the ground-truth map's size; with fixations only they
are evaluated at their own size. Every metric is computed on the maps as read (8-bit PNGs).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_file, write_text
from sstsal.errors import InputError
from sstsal.evaluation import metrics

# Bump when metric values or the CSV layout change (reruns the workflow's evaluate jobs).
OUTPUT_VERSION = 1

COLUMNS: tuple[str, ...] = ("frame",) + metrics.METRIC_NAMES + metrics.SPHERE_METRIC_NAMES
_FRAME_NUMBER = re.compile(r"(?:^|_)(\d+)$")


def frame_number(path: Path) -> int | None:
    """The frame number at the end of a file stem (``001_0042.png`` or ``0042.png`` -> 42)."""
    match = _FRAME_NUMBER.search(path.stem)
    return int(match.group(1)) if match else None


def index_maps(folder: str | Path, what: str) -> dict[int, Path]:
    """All PNG maps of ``folder`` by frame number; ``what`` names the folder in errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{what} folder {folder} does not exist or is not a folder")
    maps: dict[int, Path] = {}
    unnamed: list[str] = []
    for path in sorted(folder.glob("*.png")):
        if path.name.startswith("."):
            continue  # temporary files of atomic writes
        number = frame_number(path)
        if number is None:
            unnamed.append(path.name)
            continue
        if number in maps:
            raise InputError(f"{what} folder {folder} has two maps for frame {number}: {maps[number].name} and {path.name}")
        maps[number] = path
    if unnamed:
        raise InputError(
            f"{len(unnamed)} PNG(s) in {what} folder {folder} do not end in a frame number "
            f"(e.g. 0042.png or video_0042.png): {', '.join(unnamed[:5])}"
        )
    if not maps:
        raise InputError(f"{what} folder {folder} holds no PNG saliency maps")
    return maps


def read_saliency_map(path: Path) -> np.ndarray:
    """A saliency map PNG (grey or colour, 8 or 16 bit) as float64 ``(H, W)``."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read saliency map {path}: not an image, or truncated")
    if image.ndim == 3:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    return image.astype(np.float64)


@dataclass
class FrameFixations:
    """The fixations of one frame, as gaze directions or as pixels of a given image size."""

    yaw: list[float] = field(default_factory=list)
    pitch: list[float] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (height, width) that x, y refer to; None: the evaluated size

    def pixels(self, height: int, width: int) -> np.ndarray:
        """``(N, 2)`` int ``(row, col)`` pixels in a ``height x width`` map."""
        parts = []
        if self.yaw:
            parts.append(metrics.fixations_to_pixels(np.array(self.yaw), np.array(self.pitch), height, width))
        if self.x:
            ref_h, ref_w = self.size or (height, width)
            x = np.array(self.x) * width / ref_w
            y = np.array(self.y) * height / ref_h
            if x.min() < 0 or y.min() < 0 or x.max() >= width or y.max() >= height:
                raise InputError(
                    f"fixation pixels fall outside the {ref_w}x{ref_h} image they refer to: give yaw/pitch, "
                    "or width/height columns with the size of the image the x/y pixels were measured in"
                )
            parts.append(np.stack([np.floor(y), np.floor(x)], axis=1).astype(np.int64))
        return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)


def read_fixations(path: str | Path, video: str | None = None) -> dict[int, FrameFixations]:
    """Fixations per frame number from a CSV (see the module docstring for the columns).

    ``video``: keep only rows whose ``video`` column equals it (when the column exists).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"fixation file {path} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip().lower(): name for name in (reader.fieldnames or [])}
        has_angles = {"yaw", "pitch"} <= header.keys()
        has_pixels = {"x", "y"} <= header.keys()
        if "frame" not in header or not (has_angles or has_pixels):
            raise InputError(
                f"fixation file {path} needs a 'frame' column and either 'yaw,pitch' (degrees) or 'x,y' "
                f"(pixels) columns; it has {', '.join(reader.fieldnames or []) or 'no header'}"
            )
        fixations: dict[int, FrameFixations] = {}
        for line, row in enumerate(reader, start=2):
            value = {key: (row.get(original) or "").strip() for key, original in header.items()}
            if video is not None and "video" in value and value["video"] != video:
                continue
            try:
                frame = int(value["frame"])
                entry = fixations.setdefault(frame, FrameFixations())
                if has_angles and value["yaw"] and value["pitch"]:
                    entry.yaw.append(float(value["yaw"]))
                    entry.pitch.append(float(value["pitch"]))
                elif has_pixels and value["x"] and value["y"]:
                    entry.x.append(float(value["x"]))
                    entry.y.append(float(value["y"]))
                    if value.get("width") and value.get("height"):
                        size = (int(value["height"]), int(value["width"]))
                        if entry.size not in (None, size):
                            raise ValueError("frame mixes x/y fixations of different image sizes")
                        entry.size = size
                else:
                    raise ValueError("no yaw/pitch or x/y values")
            except ValueError as exc:
                raise InputError(f"{path}, line {line}: {exc}; expected numbers in frame and yaw/pitch or x/y") from None
        if not fixations:
            scope = f" for video {video!r}" if video is not None else ""
            raise InputError(f"fixation file {path} holds no fixations{scope}")
        return fixations


@dataclass
class EvaluationResult:
    """Per-frame metrics and what could not be evaluated."""

    rows: list[dict[str, float]]  # one per evaluated frame, with key "frame"
    mean: dict[str, float]
    predictions_without_ground_truth: list[int]
    ground_truth_without_prediction: list[int]

    def summary(self) -> str:
        return (
            f"evaluated {len(self.rows)} frame(s); skipped {len(self.predictions_without_ground_truth)} predicted "
            f"frame(s) without ground truth and {len(self.ground_truth_without_prediction)} ground-truth frame(s) "
            "without prediction"
        )


def _format(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.6f}"


def write_metrics_csv(result: EvaluationResult, out_csv: str | Path) -> None:
    """Write ``frame, <metrics>`` rows and a final ``frame=mean`` row atomically."""
    lines = [",".join(COLUMNS)]
    for row in result.rows + [dict(result.mean, frame="mean")]:
        frame = row["frame"]
        lines.append(",".join([str(frame)] + [_format(row[name]) for name in COLUMNS[1:]]))
    write_text(out_csv, "\n".join(lines) + "\n")


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path | None = None,
    fixations: str | Path | dict[int, FrameFixations] | None = None,
    *,
    video: str | None = None,
) -> EvaluationResult:
    """Evaluate every predicted frame that has a ground-truth map and/or fixations.

    Frames without ground truth are skipped and reported in the result, never silently.
    """
    if gt_dir is None and fixations is None:
        raise InputError("give ground-truth saliency maps (--gt), fixations (--fixations), or both")
    predictions = index_maps(pred_dir, "prediction")
    gt_maps = index_maps(gt_dir, "ground-truth") if gt_dir is not None else {}
    if fixations is not None and not isinstance(fixations, dict):
        fixations = read_fixations(fixations, video=video)
    fixations = fixations or {}
    truth = set(gt_maps) | set(fixations)
    rows: list[dict[str, float]] = []
    for number in sorted(set(predictions) & truth):
        pred = read_saliency_map(predictions[number])
        gt = read_saliency_map(gt_maps[number]) if number in gt_maps else None
        if gt is not None and gt.shape != pred.shape:
            pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        pixels = fixations[number].pixels(*pred.shape) if number in fixations else None
        try:
            values = metrics.evaluate_frame(pred, gt, pixels)
        except InputError as exc:
            raise InputError(f"frame {number} ({predictions[number].name}): {exc}") from None
        rows.append({"frame": number, **values})
    if not rows:
        raise InputError(
            f"no predicted frame of {pred_dir} has ground truth: predictions are frames "
            f"{_span(predictions)}, ground truth frames {_span(truth)}; maps pair by the number at the end of the name"
        )
    mean = {}
    for name in COLUMNS[1:]:
        values = np.array([row[name] for row in rows], dtype=np.float64)
        mean[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return EvaluationResult(
        rows=rows,
        mean=mean,
        predictions_without_ground_truth=sorted(set(predictions) - truth),
        ground_truth_without_prediction=sorted(truth - set(predictions)),
    )


def _span(numbers) -> str:
    numbers = sorted(numbers)
    return f"{numbers[0]}-{numbers[-1]} ({len(numbers)})" if numbers else "none"


# --- over videos: the workflow's summary table and plots ----------------------------------------


def write_counts(result: EvaluationResult, path: str | Path) -> None:
    """The frame counts of one video's evaluation as JSON (read by :func:`summarise_videos`)."""
    counts = {
        "frames_evaluated": len(result.rows),
        "predictions_without_ground_truth": len(result.predictions_without_ground_truth),
        "ground_truth_without_prediction": len(result.ground_truth_without_prediction),
    }
    write_text(path, json.dumps(counts, indent=2) + "\n")


def read_metrics_csv(path: str | Path) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The per-frame rows and the ``mean`` row of a metrics CSV (empty cells as NaN)."""
    rows, mean = [], {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            values = {name: float(row[name]) if row[name] else math.nan for name in COLUMNS[1:]}
            if row["frame"] == "mean":
                mean = values
            else:
                rows.append({"frame": int(row["frame"]), **values})
    return rows, mean


SUMMARY_COLUMNS: tuple[str, ...] = (
    "video", "frames_evaluated", "predictions_without_ground_truth", "ground_truth_without_prediction",
) + COLUMNS[1:]  # fmt: skip


def summarise_videos(
    metrics_csvs: dict[str, str | Path],
    counts_jsons: dict[str, str | Path],
    out_csv: str | Path,
    videos_without_ground_truth: list[str] = (),
) -> None:
    """One row per video (frame counts, mean of each metric), videos without ground truth
    listed with empty metrics, and a last row ``mean over videos``."""
    lines = [",".join(SUMMARY_COLUMNS)]
    means = []
    for video in sorted(metrics_csvs):
        _, mean = read_metrics_csv(metrics_csvs[video])
        counts = json.loads(Path(counts_jsons[video]).read_text(encoding="utf-8"))
        means.append(mean)
        cells = [_csv_cell(video)] + [str(counts[c]) for c in SUMMARY_COLUMNS[1:4]]
        lines.append(",".join(cells + [_format(mean[name]) for name in COLUMNS[1:]]))
    for video in sorted(videos_without_ground_truth):
        lines.append(",".join([_csv_cell(video), "0", "", ""] + [""] * (len(COLUMNS) - 1)))
    if means:
        overall = []
        for name in COLUMNS[1:]:
            values = np.array([m[name] for m in means])
            overall.append(_format(float(np.nanmean(values))) if np.isfinite(values).any() else "")
        lines.append(",".join(["mean over videos", "", "", ""] + overall))
    write_text(out_csv, "\n".join(lines) + "\n")


def _csv_cell(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


PLOT_TITLES = {
    "cc": "CC (higher is better)",
    "sim": "SIM (higher is better)",
    "kld": "KLD (lower is better)",
    "nss": "NSS (higher is better)",
    "auc_judd": "AUC-Judd (higher is better)",
    "auc_borji": "AUC-Borji (higher is better)",
}


def plot_metric_over_time(metric: str, metrics_csvs: dict[str, str | Path], out_png: str | Path) -> None:
    """One metric over frame number for every video: planar form solid, sphere-aware dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=100)
    plotted = False
    for index, video in enumerate(sorted(metrics_csvs)):
        rows, _ = read_metrics_csv(metrics_csvs[video])
        frames = [row["frame"] for row in rows]
        colour = f"C{index % 10}"
        for suffix, style in (("", "-"), ("_sphere", "--")):
            # Frames without the ground truth this metric needs are left out, not drawn as gaps.
            points = [(f, row[metric + suffix]) for f, row in zip(frames, rows) if math.isfinite(row[metric + suffix])]
            if points:
                label = f"{video}{' (sphere-aware)' if suffix else ''}"
                xs, ys = zip(*points)
                axes.plot(xs, ys, style, color=colour, linewidth=1.2, marker="." if len(points) < 60 else None, label=label)
                plotted = True
    if not plotted:
        axes.text(0.5, 0.5, f"no {metric.upper()} values: this metric needs "
                  f"{'fixations' if metric in metrics.FIXATION_METRICS else 'ground-truth maps'}",
                  ha="center", va="center", transform=axes.transAxes)  # fmt: skip
    axes.set_title(PLOT_TITLES.get(metric, metric))
    axes.set_xlabel("frame number")
    axes.grid(alpha=0.3)
    if plotted:
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    with atomic_file(out_png) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)


def ground_truth_for(root: str | Path, video: str) -> tuple[Path | None, Path | None]:
    """The workflow's ground truth of ``video`` under ``root``: (``root/<video>/`` maps, ``root/<video>.csv``
    fixations), each None when absent."""
    root = Path(root)
    maps, fixations = root / video, root / f"{video}.csv"
    return (maps if maps.is_dir() else None, fixations if fixations.is_file() else None)
