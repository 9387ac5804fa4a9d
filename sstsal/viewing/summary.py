"""Per-video summary: a contact sheet of frames with their heatmaps, and where the saliency peaks.

The most salient direction of a frame is the centre of the map's maximum pixel, given as yaw
(longitude, -180..180 degrees, 0 at the image centre, positive to the right) and pitch
(latitude, -90..90 degrees, positive up) on the equirectangular frame.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_file, write_png
from sstsal.errors import InputError
from sstsal.media.render import blend, colormap_lut, heatmap, normalise_map
from sstsal.media.saliency_stack import open_stack
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


def write_directions(stack: str | Path, out_csv: str | Path, *, fps: float | None = None) -> int:
    """CSV with one row per frame: frame, source_index, time_s, yaw_deg, pitch_deg, x, y, warmup
    (1 for a warm-up map, one with too little temporal context to be trusted; else 0); the maps
    are read and the rows written a window at a time. Returns the number of rows."""
    fields = ["frame", "source_index", "time_s", "yaw_deg", "pitch_deg", "x", "y", "warmup"]
    with open_stack(stack) as maps, atomic_file(out_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields if len(maps) else ["frame"], lineterminator="\n")
        writer.writeheader()
        names, indices = maps.names, maps.frames
        for first, window in maps.windows():
            for offset, saliency in enumerate(window):
                yaw, pitch, x, y = salient_direction(saliency.astype(np.float32))
                index = int(indices[first + offset])
                writer.writerow({
                    "frame": str(names[first + offset]),
                    "source_index": index,
                    "time_s": "" if fps is None else f"{index / fps:.4f}",
                    "yaw_deg": f"{yaw:.2f}",
                    "pitch_deg": f"{pitch:.2f}",
                    "x": x,
                    "y": y,
                    "warmup": int(maps.warmup[first + offset]),
                })  # fmt: skip
        return len(maps)


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
    Only the maps shown are read. Returns the names of the frames shown.
    """
    with open_stack(stack) as maps:
        if len(maps) == 0:
            raise InputError(f"{stack} holds no saliency maps")
        picks = np.unique(np.linspace(0, len(maps) - 1, min(count, len(maps))).round().astype(int))
        names = [str(maps.names[i]) for i in picks]
        lut = colormap_lut(colormap)
        cells = []
        for i, name in zip(picks, names):
            path = Path(frames_dir) / f"{name}.png"
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise InputError(f"cannot read frame {path} for the contact sheet")
            if frame.shape[:2] != (240, 320):
                frame = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
            height, width = frame.shape[:2]
            overlay = blend(frame, heatmap(normalise_map(maps.map(int(i))), (width, height), lut), alpha)
            cell = np.concatenate([frame, overlay], axis=1)
            cell = cv2.copyMakeBorder(cell, 22, 4, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            cv2.putText(cell, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            cells.append(cell)
    columns = max(1, min(columns, len(cells)))
    blank = np.full_like(cells[0], 255)
    cells += [blank] * (-len(cells) % columns)
    rows = [np.concatenate(cells[r : r + columns], axis=1) for r in range(0, len(cells), columns)]
    write_png(out_png, np.concatenate(rows, axis=0))
    return names


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
