"""Per-video summary: a contact sheet of frames with their heatmaps, and where the saliency peaks.

The most salient direction of a frame is the centre of the map's maximum pixel, given as yaw
(longitude, -180..180 degrees, 0 at the image centre, positive to the right) and pitch
(latitude, -90..90 degrees, positive up) on the equirectangular frame.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_file, write_png
from sstsal.errors import InputError
from sstsal.media.render import blend, colormap_lut, heatmap, normalise_map
from sstsal.media.saliency_stack import load_stack, read_warmup
from sstsal.media.video import VideoInfo

# Bump when a change alters the summary files (triggers reruns through workflow params).
OUTPUT_VERSION = 2


def salient_direction(saliency: np.ndarray) -> tuple[float, float, int, int]:
    """(yaw, pitch) in degrees of the maximum of an equirectangular map (H, W), and its (x, y)."""
    height, width = saliency.shape
    y, x = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    yaw = (x + 0.5) / width * 360.0 - 180.0
    pitch = 90.0 - (y + 0.5) / height * 180.0
    return yaw, pitch, int(x), int(y)


def write_directions(stack: str | Path, out_csv: str | Path, *, fps: float | None = None) -> list[dict]:
    """CSV with one row per frame: frame, source_index, time_s, yaw_deg, pitch_deg, x, y, warmup
    (1 for a warm-up map, one with too little temporal context to be trusted; else 0)."""
    maps, names = load_stack(stack)
    warm = read_warmup(stack)
    rows = []
    for saliency, name in sorted(zip(maps, names), key=lambda item: int(item[1].rsplit("_", 1)[1])):
        yaw, pitch, x, y = salient_direction(saliency.astype(np.float32))
        index = int(name.rsplit("_", 1)[1])
        rows.append({
            "frame": name,
            "source_index": index,
            "time_s": "" if fps is None else f"{index / fps:.4f}",
            "yaw_deg": f"{yaw:.2f}",
            "pitch_deg": f"{pitch:.2f}",
            "x": x,
            "y": y,
            "warmup": int(name in warm),
        })  # fmt: skip
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["frame"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_file(out_csv) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
    return rows


def contact_sheet(
    frames_dir: str | Path,
    stack: str | Path,
    out_png: str | Path,
    *,
    count: int = 12,
    columns: int = 4,
    alpha: float = 0.5,
    colormap: str = "inferno",
) -> list[str]:
    """A grid of ``count`` evenly spaced frames, each shown plain and with its heatmap blended.

    Each cell is the 320x240 model frame next to its overlay, labelled with the frame name.
    Returns the names of the frames shown.
    """
    maps, names = load_stack(stack)
    if len(names) == 0:
        raise InputError(f"{stack} holds no saliency maps")
    order = sorted(range(len(names)), key=lambda i: int(names[i].rsplit("_", 1)[1]))
    picks = [order[i] for i in np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))]
    lut = colormap_lut(colormap)
    cells = []
    for i in picks:
        path = Path(frames_dir) / f"{names[i]}.png"
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"cannot read frame {path} for the contact sheet")
        if frame.shape[:2] != (240, 320):
            frame = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
        height, width = frame.shape[:2]
        overlay = blend(frame, heatmap(normalise_map(maps[i]), (width, height), lut), alpha)
        cell = np.concatenate([frame, overlay], axis=1)
        cell = cv2.copyMakeBorder(cell, 22, 4, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        cv2.putText(cell, names[i], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        cells.append(cell)
    columns = max(1, min(columns, len(cells)))
    blank = np.full_like(cells[0], 255)
    cells += [blank] * (-len(cells) % columns)
    rows = [np.concatenate(cells[r : r + columns], axis=1) for r in range(0, len(cells), columns)]
    write_png(out_png, np.concatenate(rows, axis=0))
    return [names[i] for i in picks]


def write_summary(
    frames_dir: str | Path,
    stack: str | Path,
    sheet_png: str | Path,
    directions_csv: str | Path,
    *,
    info: str | Path | None = None,
    count: int = 12,
    columns: int = 4,
    alpha: float = 0.5,
    colormap: str = "inferno",
) -> None:
    """Both summary files of one video; ``info`` (video.json) gives the times in the CSV."""
    fps = VideoInfo.from_json(info).fps if info else None
    contact_sheet(frames_dir, stack, sheet_png, count=count, columns=columns, alpha=alpha, colormap=colormap)
    write_directions(stack, directions_csv, fps=fps)
