"""Tile scores per segment: where on the sphere a segment's saliency is, in the tiles a packager cuts.

A layout is an equirectangular grid (``equirect:RxC``, rows of equal pitch, columns of equal yaw)
or the six faces of a cubemap each split n x n (``cubemap:N``; faces front (yaw 0), right
(yaw 90), back, left, up, down, as seen from inside). Directions follow ``directions.csv``: yaw 0
at the image centre, positive to the right, pitch positive up, in degrees.

Per segment and tile:

- ``share``: the tile's part of the segment's saliency, every pixel weighted by its solid angle
  (the rows near the poles cover a sliver of the sphere). Each map is min-max normalised and
  made a density over the sphere; a segment's density is the mean of its maps'. Shares sum to 1.
- ``viewport_p``: the probability that a viewport of ``fov`` (horizontal x vertical degrees,
  no roll), its centre drawn from that density, overlaps the tile at all. A viewport overlaps
  several tiles, so these sum to more than 1; they are what a viewport-adaptive client fetches.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_file
from sstsal.errors import InputError
from sstsal.streaming.segments import Segment, segment_maps, video_segments
from sstsal.viewing.camera import pixel_directions, yaw_pitch
from sstsal.viewing.director import rotation

log = logging.getLogger(__name__)

# Bump when a change alters tiles.csv (triggers reruns through workflow params).
OUTPUT_VERSION = 1

COLUMNS = ["segment", "start_s", "end_s", "maps", "layout", "tile", "face", "row", "col",
           "yaw_min_deg", "yaw_max_deg", "pitch_min_deg", "pitch_max_deg", "yaw_centre_deg", "pitch_centre_deg",
           "area", "share", "viewport_p", "rank"]  # fmt: skip

# Cube faces: (name, forward, right, up) as x right, y up, z forward (yaw 0).
CUBE_FACES = (
    ("front", (0, 0, 1), (1, 0, 0), (0, 1, 0)),
    ("right", (1, 0, 0), (0, 0, -1), (0, 1, 0)),
    ("back", (0, 0, -1), (-1, 0, 0), (0, 1, 0)),
    ("left", (-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ("up", (0, 1, 0), (1, 0, 0), (0, 0, -1)),
    ("down", (0, -1, 0), (1, 0, 0), (0, 0, 1)),
)
CANDIDATE_STEP_DEG = 5.0  # viewport centres: a 5-degree grid
POINT_STEP_DEG = 1.0  # the tiles are sampled at 1 degree to test a viewport's overlap


@dataclass(frozen=True)
class Tile:
    """One tile: its bounds and centre in degrees and its area as a fraction of the sphere.

    ``yaw_max_deg`` may exceed 180 for a tile across the seam behind the viewer (e.g. 135..225);
    a tile around a pole spans yaw -180..180.
    """

    name: str
    face: str
    row: int
    col: int
    yaw_min: float
    yaw_max: float
    pitch_min: float
    pitch_max: float
    yaw_centre: float
    pitch_centre: float
    area: float


@dataclass(frozen=True)
class TileLayout:
    """``equirect`` rows x cols, or ``cubemap`` with each face split rows x cols (rows == cols)."""

    kind: str
    rows: int
    cols: int

    def __post_init__(self) -> None:
        if self.kind not in ("equirect", "cubemap"):
            raise InputError(f"unknown tile layout {self.kind!r}: use equirect:ROWSxCOLS or cubemap:N")
        if not (1 <= self.rows <= 90 and 1 <= self.cols <= 180):
            raise InputError(f"tile layout {self.name}: rows must be 1..90 and columns 1..180")
        if self.kind == "cubemap" and self.rows != self.cols:
            raise InputError(f"tile layout {self.name}: a cube face is split N x N (cubemap:N)")

    @classmethod
    def parse(cls, text: str) -> TileLayout:
        """``equirect:4x8`` or ``cubemap:2``."""
        kind, _, size = str(text).strip().partition(":")
        try:
            if kind == "cubemap":
                n = int(size or 1)
                return cls("cubemap", n, n)
            rows, cols = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise InputError(f"tile layout {text!r}: write equirect:ROWSxCOLS (e.g. equirect:4x8) or cubemap:N (e.g. cubemap:2)") from None
        return cls(kind, rows, cols)

    @property
    def name(self) -> str:
        return f"cubemap:{self.rows}" if self.kind == "cubemap" else f"equirect:{self.rows}x{self.cols}"

    def tiles(self) -> list[Tile]:
        return _equirect_tiles(self.rows, self.cols) if self.kind == "equirect" else _cube_tiles(self.rows)

    def labels(self, height: int, width: int) -> np.ndarray:
        """(H, W) int: the tile index (in :meth:`tiles` order) of each pixel centre of an equirect image."""
        if self.kind == "equirect":
            rows = np.minimum((np.arange(height) + 0.5) / height * self.rows, self.rows - 1).astype(int)
            cols = np.minimum((np.arange(width) + 0.5) / width * self.cols, self.cols - 1).astype(int)
            return rows[:, None] * self.cols + cols[None, :]
        return cube_cells(pixel_directions(height, width), self.rows)


def cube_cells(vectors: np.ndarray, n: int) -> np.ndarray:
    """The cubemap tile (face * n * n + row * n + col) of unit vectors (..., 3)."""
    forwards = np.array([f for _, f, _, _ in CUBE_FACES], dtype=float)
    face = np.argmax(vectors @ forwards.T, axis=-1)
    cells = np.zeros(face.shape, dtype=int)
    for k, (_, f, r, u) in enumerate(CUBE_FACES):
        on = face == k
        depth = vectors[on] @ np.array(f, dtype=float)
        x = vectors[on] @ np.array(r, dtype=float) / depth
        y = vectors[on] @ np.array(u, dtype=float) / depth
        col = np.clip(((x + 1) / 2 * n).astype(int), 0, n - 1)
        row = np.clip(((1 - y) / 2 * n).astype(int), 0, n - 1)
        cells[on] = k * n * n + row * n + col
    return cells


def _equirect_tiles(rows: int, cols: int) -> list[Tile]:
    tiles = []
    for r in range(rows):
        top, bottom = 90.0 - 180.0 * r / rows, 90.0 - 180.0 * (r + 1) / rows
        band = (math.sin(math.radians(top)) - math.sin(math.radians(bottom))) / 2  # of the sphere
        for c in range(cols):
            left, right = -180.0 + 360.0 * c / cols, -180.0 + 360.0 * (c + 1) / cols
            tiles.append(Tile(f"r{r}c{c}", "", r, c, left, right, bottom, top, (left + right) / 2,
                              (top + bottom) / 2, band / cols))  # fmt: skip
    return tiles


def _rectangle_solid_angle(x1: float, x2: float, y1: float, y2: float) -> float:
    """Solid angle of the rectangle [x1, x2] x [y1, y2] on the plane at distance 1."""
    f = lambda x, y: math.atan(x * y / math.sqrt(1 + x * x + y * y))  # noqa: E731
    return f(x2, y2) - f(x1, y2) - f(x2, y1) + f(x1, y1)


def _cube_tiles(n: int) -> list[Tile]:
    tiles = []
    steps = np.linspace(0.0, 1.0, 33)
    for name, f, r, u in CUBE_FACES:
        f, r, u = (np.array(v, dtype=float) for v in (f, r, u))
        for row in range(n):
            y_hi, y_lo = 1 - 2 * row / n, 1 - 2 * (row + 1) / n
            for col in range(n):
                x_lo, x_hi = -1 + 2 * col / n, -1 + 2 * (col + 1) / n
                xs, ys = np.meshgrid(x_lo + (x_hi - x_lo) * steps, y_lo + (y_hi - y_lo) * steps)
                points = f + xs[..., None] * r + ys[..., None] * u
                yaw, pitch = yaw_pitch(points.reshape(-1, 3))
                centre = f + (x_lo + x_hi) / 2 * r + (y_lo + y_hi) / 2 * u
                yc, pc = (float(v) for v in yaw_pitch(centre))
                pole = name in ("up", "down") and x_lo <= 0 <= x_hi and y_lo <= 0 <= y_hi  # holds or touches it
                if pole and x_lo < 0 < x_hi and y_lo < 0 < y_hi:  # around the pole: every yaw
                    y_min, y_max = -180.0, 180.0
                else:
                    offsets = (yaw[np.abs(pitch) < 89.999] - yc + 180.0) % 360.0 - 180.0
                    y_min, y_max = yc + float(offsets.min()), yc + float(offsets.max())
                    if y_min < -180.0:
                        y_min, y_max = y_min + 360.0, y_max + 360.0
                p_min = -90.0 if pole and name == "down" else float(pitch.min())
                p_max = 90.0 if pole and name == "up" else float(pitch.max())
                area = _rectangle_solid_angle(x_lo, x_hi, y_lo, y_hi) / (4 * math.pi)
                tiles.append(Tile(f"{name}_r{row}c{col}", name, row, col, y_min, y_max, p_min, p_max, yc, pc, area))
    return tiles


def row_solid_angles(height: int) -> np.ndarray:
    """(H,) the fraction of the sphere one pixel of each row of an equirect image of width 1 covers
    (divide by the width): the band between the row's edges, exactly."""
    edges = np.radians(90.0 - 180.0 * np.arange(height + 1) / height)
    return (np.sin(edges[:-1]) - np.sin(edges[1:])) / 2


def sphere_densities(maps: np.ndarray) -> np.ndarray:
    """(n, H, W) float64: each map min-max normalised, then scaled to a density whose pixels'
    solid angles sum it to 1 (a constant map becomes the uniform density)."""
    maps = maps.astype(np.float64)
    n, height, width = maps.shape
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    maps = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 1.0)
    weights = row_solid_angles(height)[None, :, None] / width
    return maps / (maps * weights).sum(axis=(1, 2), keepdims=True)


@functools.lru_cache(maxsize=8)
def viewport_overlaps(layout: TileLayout, fov: tuple[float, float]) -> np.ndarray:
    """(C, T) bool: whether a viewport of ``fov`` centred on candidate c (:func:`candidate_grid`)
    overlaps tile t, tested on points 1 degree apart.

    Candidates of one pitch differ by 5 degrees of yaw, which is 5 columns of the point grid: the
    viewport's footprint is computed once per pitch and shifted.
    """
    rows, cols = round(180 / POINT_STEP_DEG), round(360 / POINT_STEP_DEG)
    labels = layout.labels(rows, cols)
    points = pixel_directions(rows, cols)
    tan_h, tan_v = math.tan(math.radians(fov[0] / 2)), math.tan(math.radians(fov[1] / 2))
    yaws, pitches = candidate_axes()
    shift = round(CANDIDATE_STEP_DEG / POINT_STEP_DEG)
    tiles = len(layout.tiles())
    overlap = np.zeros((len(pitches), len(yaws), tiles), dtype=bool)
    for i, pitch in enumerate(pitches):
        camera = points @ rotation(float(yaws[0]), float(pitch))  # world -> camera: R^T v, row vectors
        z = camera[..., 2]
        inside = (z > 1e-9) & (np.abs(camera[..., 0]) <= tan_h * z) & (np.abs(camera[..., 1]) <= tan_v * z)
        r_idx, c_idx = np.nonzero(inside)
        for k in range(len(yaws)):
            overlap[i, k, labels[r_idx, (c_idx + k * shift) % cols]] = True
    return overlap.reshape(-1, tiles)


def candidate_axes() -> tuple[np.ndarray, np.ndarray]:
    """Yaws (72,) and pitches (36,) of the viewport centres: cell centres of a 5-degree grid, pitch from the top."""
    yaws = -180.0 + CANDIDATE_STEP_DEG * (np.arange(round(360 / CANDIDATE_STEP_DEG)) + 0.5)
    pitches = 90.0 - CANDIDATE_STEP_DEG * (np.arange(round(180 / CANDIDATE_STEP_DEG)) + 0.5)
    return yaws, pitches


@dataclass
class TileScorer:
    """The tiles of ``layout`` on maps of ``shape`` (H, W): each pixel's tile and solid angle, and
    which tiles a viewport of ``fov`` overlaps from each candidate centre. Built once, called per segment."""

    layout: TileLayout
    shape: tuple[int, int]
    fov: tuple[float, float] = (100.0, 90.0)
    tiles: list[Tile] = field(init=False)

    def __post_init__(self) -> None:
        height, width = self.shape
        self.tiles = self.layout.tiles()
        self._labels = self.layout.labels(height, width).ravel()
        self._weights = np.broadcast_to(row_solid_angles(height)[:, None] / width, self.shape)
        self._overlap = viewport_overlaps(self.layout, tuple(self.fov)).astype(np.float64)

    def score(self, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(share (T,), viewport_p (T,)) of a sphere density (H, W) (:func:`sphere_densities`, averaged)."""
        mass = density * self._weights  # the probability of each pixel
        share = np.bincount(self._labels, weights=mass.ravel(), minlength=len(self.tiles))
        yaws, pitches = candidate_axes()
        cells = cv2.resize(mass.astype(np.float32), (len(yaws), len(pitches)), interpolation=cv2.INTER_AREA)
        centre_p = cells.ravel().astype(np.float64)
        centre_p /= centre_p.sum()
        return share / share.sum(), np.clip(centre_p @ self._overlap, 0.0, 1.0)


@dataclass(frozen=True)
class TileSettings:
    """How tiles.csv is made (config section ``tiles``): segment length, tile layouts, viewport size."""

    segment_s: float = 1.0
    layouts: tuple[str, ...] = ("equirect:4x8",)
    fov: tuple[float, float] = (100.0, 90.0)  # horizontal, vertical degrees

    def __post_init__(self) -> None:
        if not self.segment_s > 0:
            raise InputError(f"tiles: segment_s must be positive seconds, got {self.segment_s}")
        if not self.layouts:
            raise InputError("tiles: give at least one layout (equirect:ROWSxCOLS or cubemap:N)")
        names = [TileLayout.parse(text).name for text in self.layouts]
        if len(set(names)) != len(names):
            raise InputError(f"tiles: a layout is given twice ({', '.join(self.layouts)})")
        if len(self.fov) != 2 or not all(0 < v < 180 for v in self.fov):
            raise InputError(f"tiles: fov is [horizontal, vertical] degrees, each between 0 and 180, got {list(self.fov)}")

    @property
    def tile_layouts(self) -> list[TileLayout]:
        return [TileLayout.parse(text) for text in self.layouts]


def _row(segment: Segment, maps: int, layout: TileLayout, tile: Tile, share: float, viewport: float, rank: int) -> list:
    return [segment.index, f"{segment.start_s:.4f}", f"{segment.end_s:.4f}", maps, layout.name, tile.name, tile.face,
            tile.row, tile.col, f"{tile.yaw_min:.3f}", f"{tile.yaw_max:.3f}", f"{tile.pitch_min:.3f}",
            f"{tile.pitch_max:.3f}", f"{tile.yaw_centre:.3f}", f"{tile.pitch_centre:.3f}", f"{tile.area:.6f}",
            f"{share:.6f}", f"{viewport:.6f}", rank]  # fmt: skip


def write_tiles(
    maps_source: str | Path,
    out_csv: str | Path,
    *,
    fps: float,
    frame_count: int,
    settings: TileSettings = TileSettings(),
    plot: str | Path | None = None,
) -> int:
    """``tiles.csv`` (one row per segment and tile of every layout) of a video of ``frame_count``
    frames at ``fps`` from its maps (a stack or a folder, :func:`segment_maps`), and the plot of
    the first layout's shares over time. A segment without a map holds the one before it (the
    first ones take the first map's). Returns the number of segments."""
    segments = video_segments(frame_count, fps, settings.segment_s)
    layouts = settings.tile_layouts
    scorers: list[TileScorer] = []
    pending: list[Segment] = []  # segments before the first map
    last: np.ndarray | None = None
    timeline: list[np.ndarray] = []  # the first layout's shares per segment, for the plot
    with atomic_file(out_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)

        def emit(segment: Segment, count: int, density: np.ndarray) -> None:
            for layout, scorer in zip(layouts, scorers):
                share, viewport = scorer.score(density)
                ranks = np.empty(len(share), dtype=int)
                ranks[np.argsort(-share, kind="stable")] = np.arange(1, len(share) + 1)
                for t, tile in enumerate(scorer.tiles):
                    writer.writerow(_row(segment, count, layout, tile, share[t], viewport[t], int(ranks[t])))
                if layout is layouts[0]:
                    timeline.append(share.astype(np.float32))

        for segment, maps, _frames in segment_maps(maps_source, segments):
            if len(maps):
                density = sphere_densities(maps).mean(axis=0)
                if not scorers:
                    scorers = [TileScorer(layout, density.shape, settings.fov) for layout in layouts]
                for early in pending:
                    emit(early, 0, density)
                pending = []
                last = density
                emit(segment, len(maps), density)
            elif last is None:
                pending.append(segment)
            else:
                emit(segment, 0, last)
        if last is None:
            raise InputError(f"{maps_source} holds no map of this video's frames (0..{frame_count - 1}): "
                             "are they the maps of another video?")  # fmt: skip
    if plot is not None:
        plot_shares(np.stack(timeline), [s.start_s for s in segments], settings.segment_s, scorers[0].tiles, layouts[0], plot)
    log.info("%s: %d segments of %g s, layouts %s", Path(out_csv).name, len(segments), settings.segment_s,
             ", ".join(layout.name for layout in layouts))  # fmt: skip
    return len(segments)


def read_tiles(path: str | Path, layout: str | None = None) -> tuple[TileLayout, dict[int, dict[str, tuple[float, float]]], list[dict]]:
    """(the layout, {segment: {tile name: (share, viewport_p)}}, one dict per segment with start_s/end_s)
    of one layout of a tiles.csv (``layout`` None: the first equirectangular one)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"tile scores {path} do not exist: run sstsal tiles (or the workflow) first")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
            raise InputError(f"{path} is not a tiles.csv ({','.join(COLUMNS[:6])},...): rerun sstsal tiles")
        wanted = TileLayout.parse(layout).name if layout else None
        shares: dict[int, dict[str, tuple[float, float]]] = {}
        times: dict[int, dict] = {}
        chosen = None
        for row in reader:
            if chosen is None and (row["layout"] == wanted or (wanted is None and row["layout"].startswith("equirect:"))):
                chosen = row["layout"]
            if row["layout"] != chosen:
                continue
            k = int(row["segment"])
            shares.setdefault(k, {})[row["tile"]] = (float(row["share"]), float(row["viewport_p"]))
            times[k] = {"start_s": float(row["start_s"]), "end_s": float(row["end_s"])}
    if chosen is None:
        raise InputError(f"{path} has no {wanted or 'equirectangular'} layout: run sstsal tiles with --layout "
                         f"{wanted or 'equirect:4x8'}")  # fmt: skip
    return TileLayout.parse(chosen), shares, [times[k] for k in sorted(times)]


def plot_shares(shares: np.ndarray, starts: list[float], segment_s: float, tiles: list[Tile], layout: TileLayout,
                out_png: str | Path) -> None:  # fmt: skip
    """A heat map of the tiles' shares (S segments, T tiles) over time, the top tile of each segment marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    count = len(tiles)
    fig, ax = plt.subplots(figsize=(10, min(12, 2 + 0.18 * count)), dpi=100)
    end = starts[-1] + segment_s if starts else segment_s
    image = ax.imshow(shares.T, aspect="auto", origin="upper", cmap="inferno", interpolation="nearest",
                      extent=(0, end, count - 0.5, -0.5), vmin=0.0)  # fmt: skip
    centres = np.array(starts) + segment_s / 2
    ax.plot(np.minimum(centres, end), np.argmax(shares, axis=1), "o", color="cyan", markersize=3, label="top tile")
    step = max(1, count // 24)
    ax.set_yticks(range(0, count, step), [tiles[t].name for t in range(0, count, step)], fontsize=7)
    ax.set_xlabel("video time (s)")
    ax.set_ylabel(f"tile ({layout.name})")
    ax.set_title("Share of the saliency per tile and segment (solid-angle weighted; each column sums to 1)")
    ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(image, ax=ax, label="share")
    fig.tight_layout()
    with atomic_file(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
