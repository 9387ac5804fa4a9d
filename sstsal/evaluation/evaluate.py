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

Beside the prediction, every evaluation scores the baselines of :mod:`sstsal.evaluation.baselines`
(equator bias, centre bias, and with an ``observer`` column the inter-observer upper bound) on
the same frames: ``metrics.csv`` has a first column ``model`` (``prediction`` or the baseline's
name), one block of rows per model, each ending in its ``mean`` row.
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
from sstsal.evaluation.baselines import (
    BASELINES,
    BaselineSettings,
    centre_map,
    equator_map,
    fit_widths,
    fit_widths_from_maps,
)
from sstsal.gaze.maps import gaussian_map

# Bump when metric values or the CSV layout change (reruns the workflow's evaluate jobs).
OUTPUT_VERSION = 2

COLUMNS: tuple[str, ...] = ("frame",) + metrics.METRIC_NAMES + metrics.SPHERE_METRIC_NAMES
PREDICTION = "prediction"  # the model column's value for the evaluated predictions
MODELS: tuple[str, ...] = (PREDICTION,) + BASELINES
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
    observers: list[str] = field(default_factory=list)  # per fixation, angles first then pixels; empty: unknown

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

    def angles(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Yaw and pitch (degrees) of every fixation, in the order of :meth:`pixels`."""
        ref_h, ref_w = self.size or (height, width)
        yaw = np.concatenate([np.array(self.yaw, dtype=np.float64), np.array(self.x) / ref_w * 360.0 - 180.0])
        pitch = np.concatenate([np.array(self.pitch, dtype=np.float64), 90.0 - np.array(self.y) / ref_h * 180.0])
        return yaw, pitch


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
                    if "observer" in value:
                        entry.observers.insert(len(entry.yaw) - 1, value["observer"])
                elif has_pixels and value["x"] and value["y"]:
                    entry.x.append(float(value["x"]))
                    entry.y.append(float(value["y"]))
                    if "observer" in value:
                        entry.observers.append(value["observer"])
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
    """Per-frame metrics of the prediction and of the baselines, and what could not be evaluated."""

    rows: list[dict[str, float]]  # one per evaluated frame, with key "frame"
    mean: dict[str, float]
    predictions_without_ground_truth: list[int]
    ground_truth_without_prediction: list[int]
    baselines: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # baseline -> rows like `rows`
    baseline_means: dict[str, dict[str, float]] = field(default_factory=dict)
    baseline_record: dict = field(default_factory=dict)  # widths used (fitted or given), for metrics.json

    def summary(self) -> str:
        text = (
            f"evaluated {len(self.rows)} frame(s); skipped {len(self.predictions_without_ground_truth)} predicted "
            f"frame(s) without ground truth and {len(self.ground_truth_without_prediction)} ground-truth frame(s) "
            "without prediction"
        )
        if self.baselines:
            text += f"; baselines: {', '.join(f'{name} ({len(rows)} frame(s))' for name, rows in self.baselines.items())}"
        return text

    def models(self) -> dict[str, tuple[list[dict[str, float]], dict[str, float]]]:
        """Rows and mean of the prediction and of every baseline that could be scored."""
        out = {PREDICTION: (self.rows, self.mean)}
        out.update({name: (rows, self.baseline_means[name]) for name, rows in self.baselines.items() if rows})
        return out


def _format(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.6f}"


def write_metrics_csv(result: EvaluationResult, out_csv: str | Path) -> None:
    """Write ``model, frame, <metrics>`` rows, each model's block ending in ``frame=mean``, atomically."""
    lines = [",".join(("model",) + COLUMNS)]
    for model, (rows, mean) in result.models().items():
        for row in rows + [dict(mean, frame="mean")]:
            lines.append(",".join([model, str(row["frame"])] + [_format(row[name]) for name in COLUMNS[1:]]))
    write_text(out_csv, "\n".join(lines) + "\n")


def _means(rows: list[dict[str, float]]) -> dict[str, float]:
    mean = {}
    for name in COLUMNS[1:]:
        values = np.array([row[name] for row in rows], dtype=np.float64)
        mean[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return mean


class _Baselines:
    """Scores the baselines frame by frame; baseline maps cached per size."""

    def __init__(self, settings: BaselineSettings, equator_sigma: float, centre_sigma: float) -> None:
        self.settings = settings
        self.sigmas = {"equator_bias": equator_sigma, "centre_bias": centre_sigma}
        self.rows: dict[str, list[dict[str, float]]] = {name: [] for name in BASELINES}
        self._maps: dict[tuple[str, tuple[int, int]], np.ndarray] = {}

    def _map(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        if (name, shape) not in self._maps:
            build = equator_map if name == "equator_bias" else centre_map
            self._maps[(name, shape)] = build(*shape, self.sigmas[name])
        return self._maps[(name, shape)]

    def score(self, number: int, shape: tuple[int, int], gt: np.ndarray | None, frame_fixations: FrameFixations | None) -> None:
        pixels = frame_fixations.pixels(*shape) if frame_fixations is not None else None
        for name in ("equator_bias", "centre_bias"):
            self.rows[name].append({"frame": number, **metrics.evaluate_frame(self._map(name, shape), gt, pixels)})
        if frame_fixations is None or not frame_fixations.observers:
            return
        observers = np.array(frame_fixations.observers)
        if len(set(observers)) < 2:
            return
        yaw, pitch = frame_fixations.angles(*shape)
        sigma = self.settings.inter_observer_sigma_deg
        scores = []
        for observer in dict.fromkeys(observers):
            mine = observers == observer
            # Drawn afresh rather than as everyone's map minus this one's: the subtraction leaves
            # rounding noise where the map is 0, which would break AUC-Judd's ties at random.
            others = gaussian_map(yaw[~mine], pitch[~mine], *shape, sigma)
            own = gaussian_map(yaw[mine], pitch[mine], *shape, sigma)
            scores.append(metrics.evaluate_frame(others, own, pixels[mine]))
        self.rows["inter_observer"].append({"frame": number, **_means(scores)})


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path | None = None,
    fixations: str | Path | dict[int, FrameFixations] | None = None,
    *,
    video: str | None = None,
    baselines: BaselineSettings | None = BaselineSettings(),
) -> EvaluationResult:
    """Evaluate every predicted frame that has a ground-truth map and/or fixations, and the
    baselines on the same frames (``baselines=None``: none).

    Frames without ground truth are skipped and reported in the result, never silently.
    """
    if gt_dir is None and fixations is None:
        raise InputError("give ground-truth saliency maps (--gt), fixations (--fixations), or both")
    if baselines is not None:
        baselines.check()
    predictions = index_maps(pred_dir, "prediction")
    gt_maps = index_maps(gt_dir, "ground-truth") if gt_dir is not None else {}
    if fixations is not None and not isinstance(fixations, dict):
        fixations = read_fixations(fixations, video=video)
    fixations = fixations or {}
    truth = set(gt_maps) | set(fixations)
    evaluated = sorted(set(predictions) & truth)
    scorer = _baseline_scorer(baselines, evaluated, gt_maps, fixations) if baselines is not None and evaluated else None
    rows: list[dict[str, float]] = []
    for number in evaluated:
        pred = read_saliency_map(predictions[number])
        gt = read_saliency_map(gt_maps[number]) if number in gt_maps else None
        if gt is not None and gt.shape != pred.shape:
            pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        pixels = fixations[number].pixels(*pred.shape) if number in fixations else None
        try:
            values = metrics.evaluate_frame(pred, gt, pixels)
            if scorer is not None:
                scorer.score(number, pred.shape, gt, fixations.get(number))
        except InputError as exc:
            raise InputError(f"frame {number} ({predictions[number].name}): {exc}") from None
        rows.append({"frame": number, **values})
    if not rows:
        raise InputError(
            f"no predicted frame of {pred_dir} has ground truth: predictions are frames "
            f"{_span(predictions)}, ground truth frames {_span(truth)}; maps pair by the number at the end of the name"
        )
    result = EvaluationResult(
        rows=rows,
        mean=_means(rows),
        predictions_without_ground_truth=sorted(set(predictions) - truth),
        ground_truth_without_prediction=sorted(truth - set(predictions)),
    )
    if scorer is not None:
        result.baselines = scorer.rows
        result.baseline_means = {name: _means(r) if r else {} for name, r in scorer.rows.items()}
        result.baseline_record = {
            "equator_bias": {"sigma_deg": round(scorer.sigmas["equator_bias"], 4), "fitted": baselines.equator_sigma_deg is None},
            "centre_bias": {"sigma_deg": round(scorer.sigmas["centre_bias"], 4), "fitted": baselines.centre_sigma_deg is None},
            "inter_observer": {"sigma_deg": baselines.inter_observer_sigma_deg, "frames": len(scorer.rows["inter_observer"])},
        }
    return result


def _baseline_scorer(
    settings: BaselineSettings, evaluated: list[int], gt_maps: dict[int, Path], fixations: dict[int, FrameFixations]
) -> _Baselines:
    """The baselines with their widths: given, or fitted on the evaluated frames' fixations (else maps)."""
    equator, centre = settings.equator_sigma_deg, settings.centre_sigma_deg
    if equator is None or centre is None:
        with_fixations = [n for n in evaluated if n in fixations]
        if with_fixations:
            angles = [fixations[n].angles(180, 360) for n in with_fixations]
            fitted = fit_widths(np.concatenate([a[0] for a in angles]), np.concatenate([a[1] for a in angles]))
        else:
            fitted = fit_widths_from_maps(read_saliency_map(gt_maps[n]) for n in evaluated if n in gt_maps)  # one map at a time
        equator = fitted[0] if equator is None else equator
        centre = fitted[1] if centre is None else centre
    return _Baselines(settings, equator, centre)


def _span(numbers) -> str:
    numbers = sorted(numbers)
    return f"{numbers[0]}-{numbers[-1]} ({len(numbers)})" if numbers else "none"


# --- over videos: the workflow's summary table and plots ----------------------------------------


def write_counts(result: EvaluationResult, path: str | Path) -> None:
    """The frame counts of one video's evaluation and the baselines' widths as JSON (read by :func:`summarise_videos`)."""
    counts = {
        "frames_evaluated": len(result.rows),
        "predictions_without_ground_truth": len(result.predictions_without_ground_truth),
        "ground_truth_without_prediction": len(result.ground_truth_without_prediction),
        "baselines": result.baseline_record,
    }
    write_text(path, json.dumps(counts, indent=2) + "\n")


def read_metrics_csv(path: str | Path, model: str = PREDICTION) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The per-frame rows and the ``mean`` row of one model in a metrics CSV (empty cells as NaN;
    both empty when the CSV has no rows of that model)."""
    rows, mean = [], {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("model", PREDICTION) != model:
                continue
            values = {name: float(row[name]) if row[name] else math.nan for name in COLUMNS[1:]}
            if row["frame"] == "mean":
                mean = values
            else:
                rows.append({"frame": int(row["frame"]), **values})
    return rows, mean


SUMMARY_COLUMNS: tuple[str, ...] = (
    "video", "model", "frames_evaluated", "predictions_without_ground_truth", "ground_truth_without_prediction",
) + COLUMNS[1:]  # fmt: skip


def summarise_videos(
    metrics_csvs: dict[str, str | Path],
    counts_jsons: dict[str, str | Path],
    out_csv: str | Path,
    videos_without_ground_truth: list[str] = (),
) -> None:
    """One row per video and model (the prediction, then each baseline: frame counts, mean of each
    metric), videos without ground truth listed with empty metrics, and last one row
    ``mean over videos`` per model."""
    lines = [",".join(SUMMARY_COLUMNS)]
    means: dict[str, list[dict[str, float]]] = {}
    for video in sorted(metrics_csvs):
        counts = json.loads(Path(counts_jsons[video]).read_text(encoding="utf-8"))
        for model in MODELS:
            rows, mean = read_metrics_csv(metrics_csvs[video], model)
            if not rows:
                continue
            means.setdefault(model, []).append(mean)
            if model == PREDICTION:
                cells = [str(counts[c]) for c in SUMMARY_COLUMNS[2:5]]
            else:
                cells = [str(len(rows)), "", ""]
            lines.append(",".join([_csv_cell(video), model] + cells + [_format(mean[name]) for name in COLUMNS[1:]]))
    for video in sorted(videos_without_ground_truth):
        lines.append(",".join([_csv_cell(video), PREDICTION, "0", "", ""] + [""] * (len(COLUMNS) - 1)))
    for model in MODELS:
        if model not in means:
            continue
        overall = []
        for name in COLUMNS[1:]:
            values = np.array([m[name] for m in means[model]])
            overall.append(_format(float(np.nanmean(values))) if np.isfinite(values).any() else "")
        lines.append(",".join(["mean over videos", model, "", "", ""] + overall))
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
    """One metric over frame number for every video: planar form solid, sphere-aware dashed; the
    baselines (planar form) thin in grey: equator bias dotted, centre bias dash-dotted,
    inter-observer solid."""
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
        for baseline, style, grey in (("equator_bias", ":", "0.55"), ("centre_bias", "-.", "0.55"), ("inter_observer", "-", "0.25")):
            base_rows, _ = read_metrics_csv(metrics_csvs[video], baseline)
            points = [(row["frame"], row[metric]) for row in base_rows if math.isfinite(row[metric])]
            if points:
                xs, ys = zip(*points)
                axes.plot(xs, ys, style, color=grey, linewidth=0.8, label=f"{video}: {baseline.replace('_', ' ')}")
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
