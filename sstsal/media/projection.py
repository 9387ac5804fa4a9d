"""What a 360-degree video is (projection, stereo layout, pose, HDR) and how to turn it into the
one mono equirectangular SDR view the model sees.

The decision for each property is taken in this order: the sample sheet (a user's word), the
file's spherical metadata (:mod:`sstsal.media.spherical_metadata`), the content (stereo halves
compared, cube-face seams, fisheye circles), the default (mono equirectangular). Each decision
keeps its reason, which goes to the log and to ``video.json``.

The conversion is an ffmpeg filter chain run while decoding: tone mapping (``zscale`` to linear
light, BT.2020 -> BT.709 primaries, ``tonemap=mobius``, BT.709 transfer), the chosen eye cropped
out of a stereo frame, ``v360`` to equirectangular with the pose applied. A mono equirectangular
SDR video without pose gets no filter at all, so its frames stay bit-identical to the published
loader's.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import imageio_ffmpeg
import numpy as np

from sstsal.errors import InputError
from sstsal.media.spherical_metadata import SphericalMetadata

log = logging.getLogger(__name__)

PROJECTIONS = ("equirectangular", "eac", "cubemap-3x2", "cubemap-6x1", "dual-fisheye", "half-equirectangular")
STEREO_MODES = ("mono", "top-bottom", "left-right")
EYES = ("left", "right")
SHEET_COLUMNS = ("projection", "stereo", "eye", "yaw_offset")  # the sample-sheet columns read here
HDR_TRANSFERS = {"arib-std-b67": "HLG", "smpte2084": "PQ"}
TONEMAP_OPERATOR = "mobius"

# v360's names of the input projections
_V360_INPUT = {"equirectangular": "e", "eac": "eac", "cubemap-3x2": "c3x2", "cubemap-6x1": "c6x1",
               "dual-fisheye": "dfisheye", "half-equirectangular": "hequirect"}  # fmt: skip
# The aspect ratio (width / height) of one eye of each projection
_EYE_ASPECT = {"equirectangular": 2.0, "eac": 1.5, "cubemap-3x2": 1.5, "cubemap-6x1": 6.0, "dual-fisheye": 2.0,
               "half-equirectangular": 1.0}  # fmt: skip


@dataclass(frozen=True)
class SphericalLayout:
    """How one source video maps to the model's mono equirectangular view.

    width, height: the source frame; yaw/pitch/roll: degrees, the direction the file calls
    front (yaw to the right of the frame centre, pitch up) plus the sheet's ``yaw_offset``;
    bounds: (top, bottom, left, right) fractions of an equirectangular frame cropped away
    (VR180 stored as cropped equirectangular); transfer: the colour transfer ffmpeg reports;
    reasons: for each decided property, where the decision came from.
    """

    width: int
    height: int
    projection: str = "equirectangular"
    stereo: str = "mono"
    eye: str = "left"
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    transfer: str | None = None
    primaries: str | None = None
    bit_depth: int = 8
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def hdr(self) -> str | None:
        """``HLG`` or ``PQ`` for an HDR transfer, else None."""
        return HDR_TRANSFERS.get(self.transfer or "")

    @property
    def full_sphere(self) -> bool:
        """Whether every direction is seen (False for VR180 / cropped equirectangular)."""
        return self.projection != "half-equirectangular" and self.bounds == (0.0, 0.0, 0.0, 0.0)

    @property
    def identity(self) -> bool:
        """Whether decoding needs no filter (mono, uncropped 2:1 equirectangular, no pose, SDR)."""
        return (self.projection == "equirectangular" and self.stereo == "mono" and self.full_sphere
                and abs(self.width - 2 * self.height) <= max(2, 0.01 * self.width)
                and not (self.yaw or self.pitch or self.roll) and self.hdr is None)  # fmt: skip

    def crop_box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x, y, w, h) of the part of a ``size`` (w, h) equirectangular view that the source's eye
        covers: the whole view, the bounds of a cropped frame, the middle half for VR180."""
        bounds = (0.0, 0.0, 0.25, 0.25) if self.projection == "half-equirectangular" else self.bounds
        if self.projection not in ("equirectangular", "half-equirectangular"):
            bounds = (0.0, 0.0, 0.0, 0.0)
        top, bottom, left, right = bounds
        w, h = size
        x, y = round(left * w), round(top * h)
        return x, y, max(2, w - x - round(right * w)), max(2, h - y - round(bottom * h))

    def eye_size(self) -> tuple[int, int]:
        """(width, height) of one eye in the source frame."""
        if self.stereo == "top-bottom":
            return self.width, self.height // 2
        if self.stereo == "left-right":
            return self.width // 2, self.height
        return self.width, self.height

    def view_size(self) -> tuple[int, int]:
        """(width, height) of the equirectangular view, 2:1, even, about the source's resolution."""
        if self.identity:
            return self.width, self.height
        w, h = self.eye_size()
        if self.projection == "equirectangular":
            top, bottom, left, right = self.bounds
            w = w / max(1e-6, 1 - left - right)
            h = h / max(1e-6, 1 - top - bottom)
            height = max(h, w / 2)
        elif self.projection in ("eac", "cubemap-3x2"):
            height = 2 * w / 3  # face = w / 3; the equator is 4 faces long
        elif self.projection == "cubemap-6x1":
            height = 2 * w / 6
        elif self.projection == "dual-fisheye":
            height = h
        else:  # half-equirectangular: one eye covers 180 x 180 degrees
            height = max(h, w)
        height = max(2, int(round(height / 2)) * 2)
        return 2 * height, height

    def filters(self) -> list[tuple[str, dict[str, Any]]]:
        """ffmpeg filters (name, options) from a decoded source frame to the mono equirectangular view."""
        chain: list[tuple[str, dict[str, Any]]] = []
        if self.hdr is not None:
            chain += tonemap_filters(self.transfer, self.primaries)
        if self.identity:
            return chain
        w, h = self.eye_size()
        if self.stereo != "mono":
            second = self.eye == "right"
            x = w if self.stereo == "left-right" and second else 0
            y = h if self.stereo == "top-bottom" and second else 0
            chain.append(("crop", {"w": w, "h": h, "x": x, "y": y}))
        view_w, view_h = self.view_size()
        projection, bounds = self.projection, self.bounds
        turned = bool(self.yaw or self.pitch or self.roll)
        if projection == "half-equirectangular":
            # 180 x 180 degrees: the middle half of an equirectangular frame. Padded rather than
            # given to v360 as hequirect, whose output smears the edge pixels over 50 more degrees
            # on each side (and its alpha mask with them).
            projection, bounds = "equirectangular", (0.0, 0.0, 0.25, 0.25)
        if projection == "equirectangular" and bounds != (0.0, 0.0, 0.0, 0.0):
            # a cropped equirectangular frame: pad it back to the whole sphere, unseen part black
            top, bottom, left, right = bounds
            full_w, full_h = round(w / (1 - left - right)), round(h / (1 - top - bottom))
            chain.append(("pad", {"w": full_w, "h": full_h, "x": round(left * full_w), "y": round(top * full_h),
                                  "color": "black"}))  # fmt: skip
            w, h = full_w, full_h
        if projection == "equirectangular" and not turned:
            if (w, h) != (view_w, view_h):
                chain.append(("scale", {"w": view_w, "h": view_h, "flags": "area"}))
            return chain  # an equirectangular eye (padded to the whole sphere) is already the view
        options: dict[str, Any] = {"input": _V360_INPUT[projection], "output": "e", "w": view_w, "h": view_h,
                                   "interp": "cubic"}  # fmt: skip
        # v360 turns the view: positive yaw looks right, positive pitch up (the file's front goes to the centre)
        options.update({k: v for k, v in (("yaw", self.yaw), ("pitch", self.pitch), ("roll", self.roll)) if v})
        chain.append(("v360", options))
        return chain

    def filter_string(self) -> str:
        """:meth:`filters` as one ``-vf`` string."""
        parts = []
        for name, options in self.filters():
            parts.append(name + ("=" + ":".join(f"{k}={v}" for k, v in options.items()) if options else ""))
        return ",".join(parts) or "null"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(bounds=list(self.bounds), view_size=list(self.view_size()), hdr=self.hdr,
                    full_sphere=self.full_sphere, tonemap=TONEMAP_OPERATOR if self.hdr else None)  # fmt: skip
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SphericalLayout:
        names = {f for f in cls.__dataclass_fields__}
        kept = {k: v for k, v in data.items() if k in names}
        kept["bounds"] = tuple(kept.get("bounds", (0.0, 0.0, 0.0, 0.0)))
        return cls(**kept)


def tonemap_filters(transfer: str | None, primaries: str | None) -> list[tuple[str, dict[str, Any]]]:
    """HLG/PQ BT.2020 -> SDR BT.709 with zimg and ffmpeg's ``tonemap`` (Möbius).

    zscale linearises (nominal peak 100 nits, so SDR white stays white), converts the primaries
    in linear light, ``tonemap=mobius`` keeps the SDR range nearly linear and rolls off the highlights
    (hable darkened a converted SDR clip by a third: mean level 67 vs 103; mobius 99), zscale applies
    the BT.709 transfer.
    """
    return [
        # zimg needs the input's matrix and the output primaries named to find a path to linear RGB
        ("zscale", {"tin": transfer, "pin": primaries or "bt2020", "min": "bt2020nc", "t": "linear",
                    "p": primaries or "bt2020", "npl": 100}),  # fmt: skip
        ("format", {"pix_fmts": "gbrpf32le"}),
        ("zscale", {"p": "bt709"}),
        ("tonemap", {"tonemap": TONEMAP_OPERATOR, "desat": 0}),
        ("zscale", {"t": "bt709", "m": "bt709", "r": "tv"}),
        ("format", {"pix_fmts": "yuv420p"}),
    ]


# ---- content-based detection ---------------------------------------------------------------


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def halves_match(gray: np.ndarray, stereo: str) -> float:
    """Correlation of the two halves of a grey frame (top/bottom or left/right): near 1 for a
    stereo frame, lower for a mono one. The halves are blurred (the eyes' small disparity should
    not count) and each row's mean is removed (a panorama's horizontal bands, sky and floor,
    would make any two halves look alike)."""
    import cv2

    h, w = gray.shape
    if stereo == "top-bottom":
        a, b = gray[: h // 2], gray[h // 2 : 2 * (h // 2)]
    else:
        a, b = gray[:, : w // 2], gray[:, w // 2 : 2 * (w // 2)]
    a, b = (cv2.GaussianBlur(x.astype(np.float32), (0, 0), 1.5) for x in (a, b))
    return _correlation(a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True))


def border_ratios(gray: np.ndarray, columns: int, rows: int) -> tuple[list[float], list[float]]:
    """(per vertical, per horizontal face border) of a ``columns`` x ``rows`` cube grid: the mean
    jump across the border over the mean jump between the pixel pairs 2-4 pixels beside it. Cube
    faces meet at seams (well above 1); a continuous image has none (about 1)."""
    g = gray.astype(np.float64)
    dx = np.abs(np.diff(g, axis=1))  # dx[:, x] = jump between columns x and x + 1
    dy = np.abs(np.diff(g, axis=0))
    h, w = g.shape
    found: list[list[float]] = [[], []]
    for axis, (jumps, size, count) in enumerate(((dx.T, w, columns), (dy, h, rows))):
        for k in range(1, count):
            at = round(size * k / count) - 1
            beside = [at + d for d in (-4, -3, -2, 2, 3, 4) if 0 <= at + d < len(jumps)]
            found[axis].append(float(jumps[at].mean() / max(jumps[beside].mean(), 1e-3)))
    return found[0], found[1]


def seam_ratio(gray: np.ndarray, columns: int, rows: int) -> float:
    """:func:`border_ratios` averaged over the borders: EAC, 3x2 and 6x1 cubemaps made from the
    test clip score 3.4, 5.9 and 8.8, a continuous 3:2 crop of it 0.8."""
    vertical, horizontal = border_ratios(gray, columns, rows)
    return float(np.mean(vertical + horizontal))


def _jump_ratio(before: np.ndarray, after: np.ndarray, before_in: np.ndarray, after_in: np.ndarray) -> float:
    """Mean jump between two lines 5 pixels apart across a border, over the mean jump between
    lines 5 pixels apart on either side of it."""
    across = np.abs(before - after).mean()
    within = (np.abs(before_in - before).mean() + np.abs(after - after_in).mean()) / 2
    return float(across / max(within, 1e-3))


def cube_order_ratio(gray: np.ndarray) -> float:
    """How much smoother a 3x2 grid comes out read as a plain cubemap than read as EAC: the
    total variation of its equirectangular conversion as EAC over that as cubemap-3x2 (v360).
    The right reading puts the faces side by side where they belong; the wrong one adds edges
    where faces of the other order meet. Measured: plain cubemaps 1.15-1.18, EAC 0.89-0.93."""

    def variation(projection: str) -> float:
        e = as_equirect(gray, projection).astype(np.float64)
        return float(np.abs(np.diff(e, axis=1)).mean() + np.abs(np.diff(e, axis=0)).mean())

    return variation("eac") / max(variation("cubemap-3x2"), 1e-6)


def wrap_ratio(gray: np.ndarray) -> float:
    """:func:`_jump_ratio` across the left/right edge: about 1 when the picture goes on from the
    right edge to the left one (a whole 360-degree equirectangular frame), well above 1 when not
    (VR180, a fisheye)."""
    g = gray.astype(np.float64)
    return _jump_ratio(g[:, -3], g[:, 2], g[:, -8], g[:, 7])


def pole_spread(gray: np.ndarray) -> float:
    """How much the top and bottom rows vary along the row, over the frame's variation. An
    equirectangular frame's first and last rows each show one direction (the poles), so they are
    nearly flat (measured 0.00-0.04); a fisheye's or a cube face's are ordinary picture (0.3-0.9)."""
    g = gray.astype(np.float64)
    k = max(1, g.shape[0] // 64)
    rows = np.concatenate([g[:k], g[-k:]])
    return float(rows.std(axis=1).mean() / max(g.std(), 1e-6))


def as_equirect(gray: np.ndarray, projection: str) -> np.ndarray:
    """A grey frame (H, W) read as ``projection`` and converted by ffmpeg's v360 to an
    equirectangular frame W wide (the frame itself when ffmpeg fails)."""
    h, w = gray.shape
    out_w, out_h = w, max(2, w // 2)
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", "rawvideo",
         "-pix_fmt", "gray", "-s", f"{w}x{h}", "-i", "pipe:", "-vf",
         f"v360={_V360_INPUT[projection]}:e:w={out_w}:h={out_h}", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
        input=np.ascontiguousarray(gray).tobytes(), capture_output=True,
    )  # fmt: skip
    if proc.returncode != 0 or len(proc.stdout) < out_w * out_h:
        return gray
    return np.frombuffer(proc.stdout[: out_w * out_h], np.uint8).reshape(out_h, out_w)


def fisheye_corners_dark(gray: np.ndarray) -> bool:
    """Whether both halves of a 2:1 frame are circles on black (dual fisheye): the corners
    outside each inscribed circle are almost black while the circles are not."""
    h, w = gray.shape
    half = w // 2
    yy, xx = np.mgrid[0:h, 0:half]
    outside = (xx - half / 2 + 0.5) ** 2 + (yy - h / 2 + 0.5) ** 2 > (min(h, half) / 2 * 1.02) ** 2
    inside = (xx - half / 2 + 0.5) ** 2 + (yy - h / 2 + 0.5) ** 2 < (min(h, half) / 2 * 0.9) ** 2
    for part in (gray[:, :half], gray[:, half : 2 * half]):
        if part[outside].mean() > 12 or part[inside].mean() < 2 * part[outside].mean() + 10:
            return False
    return True


# Halves correlation above which a frame is taken as stereo: identical halves score 1, and the
# halves of a mono panorama of a room with a repeating grid texture still score up to 0.88.
STEREO_MATCH = 0.93
# Face-border jumps this many times the jumps just beside them make a 3:2 or 6:1 frame a cube
# grid (the mean over the borders, or the border between the two rows of a 3x2 grid): EAC, 3x2 and
# 6x1 cubemaps made from the test clip score 3.4, 5.9 and 8.8, and Google's congo.mp4 as EAC 2.05
# between the rows; a continuous 3:2 crop of the test clip 0.8.
SEAM_RATIO = 1.7
# cube_order_ratio above which a 3x2 grid is a plain cubemap, below which EAC (measured 1.15-1.18
# and 0.89-0.93 on both kinds made from the test clip and from congo.mp4)
CUBEMAP_ORDER, EAC_ORDER = 1.05, 0.96
# The stored aspects a stereo eye is found at: squeezed VR180 side by side (0.89:1 in a 16:9 frame)
# to squeezed 360-degree top-bottom (4:1 in a 2:1 frame); a split outside them is not tried
EYE_ASPECTS = (0.75, 4.05)
# pole_spread below which a 2:1 frame is taken as equirectangular, and above which (while its
# conversion as dual fisheye has flat poles) as a dual fisheye that fills the frame.
POLE_FLAT, POLE_PICTURE = 0.12, 0.25
# wrap_ratio below which an eye wraps around (a whole 360-degree frame)
WRAPS = 1.6


def _stereo_projection(eye: list[np.ndarray], stereo: str) -> tuple[str, str]:
    """(projection, words) of the eye of a stereo frame: whole 360 degrees when it wraps around,
    else VR180 (half-equirectangular)."""
    wrap = float(np.median([wrap_ratio(g) for g in eye]))
    if wrap < WRAPS:
        return "equirectangular", f"each eye wraps around (edge jump ratio {wrap:.1f}): {stereo} stereo equirectangular"
    return "half-equirectangular", f"each eye does not wrap around (edge jump ratio {wrap:.1f}): {stereo} VR180"


def detect_from_content(
    gray_frames: list[np.ndarray], source_size: tuple[int, int] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Guess projection and stereo layout from a few grey frames (H, W) of a video without metadata
    (``source_size``: the video's (width, height), for the messages; default the frames').

    Stereo is told by the halves matching whatever the stored aspect (eyes are often stored
    squeezed); a stereo eye that wraps around is 360-degree, one that does not VR180. A 3:2 grid
    is EAC when the picture goes on across the face borders within each row of faces, a plain
    cubemap when it does not; a 2:1 frame is equirectangular when its top and bottom rows are
    flat (the poles), a dual fisheye when they are not but its conversion as dual fisheye has
    flat poles. Returns ({property: value} for what could be told, plus ``assume``: the projection
    to take when it could not be told, when not the default; the reasons in words).
    """
    h, w = gray_frames[0].shape
    if source_size is not None:
        w, h = source_size
    aspect = w / h
    found: dict[str, str] = {}
    reasons: list[str] = []

    def score(fn, *args) -> float:
        return float(np.median([fn(g, *args) for g in gray_frames]))

    if abs(aspect - 2) < 0.02 and all(fisheye_corners_dark(g) for g in gray_frames):
        found.update(projection="dual-fisheye", stereo="mono")
        reasons.append("2:1 with two image circles on black: dual fisheye")
        return found, reasons
    # only splits whose eyes could be stored so (0.75:1 squeezed VR180 to 4:1 squeezed 360 stereo)
    tb = score(halves_match, "top-bottom") if EYE_ASPECTS[0] <= 2 * aspect <= EYE_ASPECTS[1] else 0.0
    lr = score(halves_match, "left-right") if EYE_ASPECTS[0] <= aspect / 2 <= EYE_ASPECTS[1] else 0.0
    if max(tb, lr) > STEREO_MATCH:
        stereo = "top-bottom" if tb >= lr else "left-right"
        gh, gw = gray_frames[0].shape
        eye = [g[: gh // 2] if stereo == "top-bottom" else g[:, : gw // 2] for g in gray_frames]
        projection, words = _stereo_projection(eye, stereo)
        eye_w, eye_h = (w, h // 2) if stereo == "top-bottom" else (w // 2, h)
        found.update(projection=projection, stereo=stereo)
        reasons.append(f"{w}x{h} whose {stereo} halves match (correlation {max(tb, lr):.2f}), each eye "
                       f"{eye_w}x{eye_h} ({eye_w / eye_h:.2f}:1); {words}")  # fmt: skip
        return found, reasons
    halves = f"halves differ (top-bottom {tb:.2f}, left-right {lr:.2f})"
    if abs(aspect - 1.5) < 0.02 or abs(aspect - 6) < 0.05:
        columns, rows = (3, 2) if aspect < 2 else (6, 1)
        ratio = score(seam_ratio, columns, rows)
        if columns == 6:
            if ratio > SEAM_RATIO:
                found.update(projection="cubemap-6x1", stereo="mono")
                reasons.append(f"6x1 grid with seams at the face borders (jump ratio {ratio:.1f}): cubemap-6x1")
            else:
                reasons.append(f"6:1 without face seams (jump ratio {ratio:.1f}), {halves}: layout unknown")
            return found, reasons
        middle = score(lambda g: border_ratios(g, 3, 2)[1][0])
        if max(ratio, middle) <= SEAM_RATIO:
            reasons.append(f"3:2 without face seams (jump ratio {ratio:.1f}, between the rows {middle:.1f}), {halves}: "
                           "layout unknown")  # fmt: skip
            return found, reasons
        order = score(cube_order_ratio)
        found["stereo"] = "mono"
        grid = f"3x2 grid with seams (jump ratio {ratio:.1f}, between the rows {middle:.1f})"
        if order > CUBEMAP_ORDER:
            found["projection"] = "cubemap-3x2"
            reasons.append(f"{grid} that comes out {order:.2f} times smoother read as a plain cubemap than as EAC: "
                           "cubemap-3x2")  # fmt: skip
        elif order < EAC_ORDER:
            found["projection"] = "eac"
            reasons.append(f"{grid} that comes out {1 / order:.2f} times smoother read as YouTube's EAC than as a "
                           "plain cubemap: EAC")  # fmt: skip
        else:
            found["assume"] = "eac"  # the more common 3x2 grid (YouTube's)
            reasons.append(f"{grid} that reads about as well as EAC and as a plain cubemap (ratio {order:.2f}): "
                           "cannot tell which")  # fmt: skip
        return found, reasons
    poles, wrap = score(pole_spread), score(wrap_ratio)
    if abs(aspect - 2) < 0.02:
        fisheye = score(lambda g: pole_spread(as_equirect(g, "dual-fisheye")))
        if poles < POLE_FLAT:
            found.update(projection="equirectangular", stereo="mono")
            reasons.append(f"2:1 with flat top and bottom rows (pole spread {poles:.2f}), {halves}: mono equirectangular")
        elif poles > POLE_PICTURE and fisheye < POLE_FLAT:
            found.update(projection="dual-fisheye", stereo="mono")
            reasons.append(f"2:1 whose top and bottom rows are picture (pole spread {poles:.2f}) but flat once read "
                           f"as dual fisheye ({fisheye:.2f}): dual fisheye filling the frame")  # fmt: skip
        elif fisheye >= POLE_FLAT:
            found.update(projection="equirectangular", stereo="mono")
            reasons.append(f"2:1, {halves}, no dual fisheye (read as one its top and bottom rows are not flat: "
                           f"{fisheye:.2f}; as it is {poles:.2f}): mono equirectangular")  # fmt: skip
        else:
            found["stereo"] = "mono"
            reasons.append(f"2:1, {halves}, pole spread {poles:.2f} (as dual fisheye {fisheye:.2f}): cannot tell "
                           "equirectangular from dual fisheye")  # fmt: skip
        return found, reasons
    if poles < POLE_FLAT and wrap < WRAPS:
        found.update(projection="equirectangular", stereo="mono")
        reasons.append(f"{w}x{h} ({aspect:.2f}:1) with flat top and bottom rows (pole spread {poles:.2f}) that wraps "
                       f"around (edge jump ratio {wrap:.1f}), {halves}: mono equirectangular stored at {aspect:.2f}:1")  # fmt: skip
    else:
        reasons.append(f"{w}x{h} ({aspect:.2f}:1), {halves}, pole spread {poles:.2f}, edge jump ratio {wrap:.1f}: "
                       "no known 360-degree layout")  # fmt: skip
    return found, reasons


def grey_samples(path: str, width: int, height: int, duration: float, *, count: int = 3,
                 small_width: int = 384, input_options: dict | None = None) -> list[np.ndarray]:
    """``count`` grey frames (H, ``small_width``) spread over the video (source aspect kept);
    ``input_options``: ffmpeg input options ({"bsf:v": ...}) the file needs."""
    small_height = max(2, int(round(small_width * height / width / 2)) * 2)
    options = [a for key, value in (input_options or {}).items() for a in (f"-{key}", str(value))]
    frames = []
    for k in range(count):
        at = duration * (k + 0.5) / count if duration > 0 else 0.0
        # seek on the input (fast), else decode up to the instant (a stream without an index to
        # seek in, such as an MPEG-TS segment with one keyframe, gives nothing when seeked)
        for seek in (["-ss", f"{at:.3f}", *options, "-i", path], [*options, "-i", path, "-ss", f"{at:.3f}"]):
            proc = subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *seek, "-frames:v", "1",
                 "-vf", f"scale={small_width}:{small_height}:flags=area,format=gray", "-f", "rawvideo", "pipe:1"],
                capture_output=True,
            )  # fmt: skip
            if proc.returncode == 0 and len(proc.stdout) >= small_width * small_height:
                frames.append(np.frombuffer(proc.stdout[: small_width * small_height], np.uint8).reshape(small_height, small_width))
                break
    return frames


def decide_layout(
    path: str,
    width: int,
    height: int,
    duration: float,
    metadata: SphericalMetadata,
    *,
    transfer: str | None = None,
    primaries: str | None = None,
    bit_depth: int = 8,
    sheet: dict[str, Any] | None = None,
    input_options: dict | None = None,
) -> SphericalLayout:
    """The layout of one video: sheet entry > spherical metadata > content > default (mono equirect).

    An equirectangular eye (whole or cropped) maps onto what the metadata says whatever its stored
    aspect (squeezed stereo eyes, 16:9): it is resampled to the 2:1 view, and ``reasons["aspect"]``
    says so. Raises InputError for metadata we cannot convert (a mesh projection without a V1 crop
    description, custom stereo) unless the sheet says what the frames are, and for layouts the
    frame cannot have (a cube face that is not square), naming the layouts that fit.
    """
    sheet = {k: v for k, v in (sheet or {}).items() if v not in (None, "", "auto")}
    values: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    name = path.rsplit("/", 1)[-1]

    if metadata.version:
        tag = "spherical metadata " + (metadata.version.upper() if metadata.version != "side data" else "(ffmpeg side data)")
        if metadata.projection is not None:
            projection = {"cubemap-3x2": "cubemap-3x2", "equirectangular": "equirectangular"}.get(metadata.projection)
            if metadata.projection == "mesh" and "projection" not in sheet:
                raise InputError(mesh_refusal(name, metadata, width, height))
            if projection is None and "projection" not in sheet:
                raise InputError(
                    f"{name}: its spherical metadata says projection {metadata.projection!r}, which cannot be "
                    "converted automatically: set its projection in the sample sheet (config key `sheet`)"
                )
            if projection and metadata.projection_from == "v1":
                tag_v1 = ("spherical metadata V1 (its crop description; V2 describes the frames with a mesh, "
                          "which players without mesh support replace by it)")  # fmt: skip
                values["projection"], reasons["projection"] = projection, tag_v1
                if metadata.bounds != (0.0, 0.0, 0.0, 0.0):
                    reasons["bounds"] = tag_v1.split(" (")[0] + " (its crop description)"
            elif projection:
                values["projection"], reasons["projection"] = projection, tag
            if metadata.bounds != (0.0, 0.0, 0.0, 0.0):
                values["bounds"] = tuple(metadata.bounds)
                reasons.setdefault("bounds", tag)
            if metadata.yaw or metadata.pitch or metadata.roll:
                # V1 names the initial view's direction (heading right, pitch up): the view's centre.
                # V2's pose turns the projection counter-clockwise about up (yaw) and right (pitch):
                # the file's front then lies yaw to the right and pitch *below* the frame centre.
                pitch = -metadata.pitch if metadata.pose_from == "v2" else metadata.pitch
                values.update(yaw=metadata.yaw, pitch=pitch, roll=metadata.roll)
                reasons["pose"] = f"{tag} ({'initial view' if metadata.pose_from == 'v1' else 'projection pose'})"
        if metadata.stereo is not None:
            stereo = {"right-left": "left-right"}.get(metadata.stereo, metadata.stereo)
            if stereo not in STEREO_MODES and "stereo" not in sheet:
                raise InputError(
                    f"{name}: its metadata says stereo mode {metadata.stereo!r}, which cannot be split "
                    "automatically: set stereo (and eye) in the sample sheet"
                )
            if stereo in STEREO_MODES:
                values["stereo"], reasons["stereo"] = stereo, tag
            if metadata.stereo == "right-left":
                # the right eye is stored on the left: the left eye is the second half
                values["eye_swap"] = True
    undecided = [k for k in ("projection", "stereo") if k not in values and k not in sheet]
    if undecided:
        grays = grey_samples(path, width, height, duration, input_options=input_options)
        found, words = detect_from_content(grays, (width, height)) if grays else ({}, ["no frame could be decoded for a look"])
        for key in undecided:
            if key in found:
                values[key], reasons[key] = found[key], "content: " + "; ".join(words)
        missing = [k for k in undecided if k not in found]
        if path.lower().endswith(".insv") and "projection" in missing:
            found, missing = _insta360(name, width, height, words, values, reasons), [k for k in missing if k != "projection"]
        if missing:
            defaults = {"projection": found.get("assume", "equirectangular"), "stereo": "mono"}
            for key in missing:
                values[key], reasons[key] = defaults[key], "default (content undecided: " + "; ".join(words) + ")"
            log.warning("%s: cannot tell its %s from the content (%s); using the default %s. Set it in the "
                        "sample sheet if that is wrong", name, " and ".join(missing), "; ".join(words),
                        ", ".join(f"{k} {defaults[k]}" for k in missing))  # fmt: skip
    for key in ("projection", "stereo", "eye"):
        if key in sheet:
            if key in values and values[key] != sheet[key]:
                log.info("%s: sample sheet sets %s %s (overriding %s from %s)", name, key, sheet[key], values[key],
                         reasons.get(key))  # fmt: skip
            values[key], reasons[key] = sheet[key], "sample sheet"
    eye_swap = values.pop("eye_swap", False)
    layout = SphericalLayout(
        width=width, height=height, transfer=transfer, primaries=primaries, bit_depth=bit_depth,
        **{k: v for k, v in values.items() if k in ("projection", "stereo", "eye", "yaw", "pitch", "roll", "bounds")},
    )  # fmt: skip
    if eye_swap and layout.stereo == "left-right" and "eye" not in sheet:
        layout = replace(layout, eye="right" if layout.eye == "left" else "left")
    offset = float(sheet.get("yaw_offset", 0.0) or 0.0)
    if offset:
        reasons["yaw_offset"] = f"sample sheet: {offset:+g} degrees"
        layout = replace(layout, yaw=layout.yaw + offset)
    if layout.hdr:
        reasons["tonemap"] = f"{layout.hdr} ({transfer}, {bit_depth}-bit): tone-mapped to SDR BT.709 with {TONEMAP_OPERATOR}"
    if layout.stereo != "mono":
        reasons.setdefault("eye", "default: the left eye")
    if not reasons.get("projection", "").startswith("default"):
        _check_shape(layout, name)
    stored = _stored_aspect(layout)
    if stored:
        reasons["aspect"] = stored
    for key, why in reasons.items():
        log.info("%s: %s: %s", name, key, why)
    return replace(layout, reasons=reasons)


def _insta360(name: str, width: int, height: int, words: list[str], values: dict, reasons: dict) -> dict:
    """An Insta360 raw file (.insv) whose content did not say: two fisheye images side by side
    when 2:1 (what the cameras record), else refused with what to do."""
    if abs(width - 2 * height) <= max(2, 0.01 * width):
        values["projection"] = "dual-fisheye"
        reasons["projection"] = ("Insta360 raw file (.insv), 2:1: dual fisheye, as the cameras record it (content: "
                                 + "; ".join(words) + ")")  # fmt: skip
        return {}
    raise InputError(
        f"{name} is an Insta360 raw file (.insv) of {width}x{height}, not two fisheye images side by side (2:1): "
        "cameras that keep each lens in its own file or stream need stitching first: export it as an "
        "equirectangular MP4 from Insta360 Studio, or set its projection and stereo in the sample sheet"
    )


def mesh_refusal(name: str, metadata: SphericalMetadata, width: int, height: int) -> str:
    """The error for a V2 mesh projection without a V1 crop description: what the mesh is, and what to set."""
    mesh = metadata.mesh or {}
    meshes = mesh.get("meshes") or []
    spans = ", ".join(f"{m['degrees_wide']:g}x{m['degrees_high']:g} degrees" for m in meshes)
    said = (f"{len(meshes)} mesh(es) ({mesh.get('encoding')}, {spans})" if meshes
            else mesh.get("error", "a mesh"))  # fmt: skip
    return (
        f"{name} ({width}x{height}) is a mesh projection: its Spherical Video V2 metadata maps the frames onto "
        f"{said} (mshp, as VR180 cameras write), and it has no V1 crop description to fall back on. Meshes are "
        "not projected here: set projection half-equirectangular (VR180, each eye 180x180 degrees) and its stereo "
        f"({metadata.stereo or 'mono'}) in the sample sheet (config key `sheet`), or export it as equirectangular "
        "with the camera's software"
    )


# the projections whose eye maps onto its part of the sphere whatever its stored aspect
_STRETCHABLE = ("equirectangular", "half-equirectangular")


def _stored_aspect(layout: SphericalLayout) -> str | None:
    """Words for an equirectangular eye stored at another aspect than the sphere part it shows."""
    if layout.projection not in _STRETCHABLE:
        return None
    w, h = layout.eye_size()
    x, y, cw, ch = layout.crop_box(layout.view_size())
    if abs(w / h - cw / ch) <= 0.01 * cw / ch:
        return None
    view_w, view_h = layout.view_size()
    return (f"each eye is stored at {w}x{h} ({w / h:.2f}:1) for a part of the sphere that is {cw / ch:.2f}:1: "
            f"resampled to the {view_w}x{view_h} view, as 360-degree players map it")  # fmt: skip


def _fitting_layouts(layout: SphericalLayout) -> list[str]:
    """The projection/stereo pairs of the sheet whose eye shape the frame has."""
    fits = []
    for stereo in STEREO_MODES:
        w, h = replace(layout, stereo=stereo).eye_size()
        for projection, expected in _EYE_ASPECT.items():
            if projection in _STRETCHABLE:
                continue
            if abs(w / h - expected) <= 0.03 * expected:
                fits.append(f"projection {projection} with stereo {stereo}")
    return fits


def _check_shape(layout: SphericalLayout, name: str) -> None:
    """Refuse a layout the frame cannot have (a cubemap whose faces are not square, a dual fisheye
    whose circles do not fit); an equirectangular eye fits at any stored aspect."""
    if layout.projection in _STRETCHABLE:
        return
    w, h = layout.eye_size()
    expected = _EYE_ASPECT[layout.projection]
    if abs(w / h - expected) > 0.03 * expected:
        what = "cube faces would not be square" if layout.projection != "dual-fisheye" else "fisheye circles would not be round"
        fits = _fitting_layouts(layout)
        raise InputError(
            f"{name} is {layout.width}x{layout.height}: one {layout.stereo} eye is {w}x{h} ({w / h:.2f}:1), but "
            f"{layout.projection} frames are {expected:g}:1 (its {what}). Set in the sample sheet what the frames "
            "are: " + "; ".join(fits + ["projection equirectangular (any stored aspect) with its stereo layout"])
        )


def seen_mask(layout: SphericalLayout, size: tuple[int, int]) -> np.ndarray | None:
    """(H, W) bool of the view directions the source covers, at ``size`` (width, height); None
    when it covers the whole sphere. Made by running the same conversion on a white frame."""
    if layout.full_sphere:
        return None
    w, h = layout.width, layout.height
    mono = replace(layout, transfer=None, stereo="mono", width=layout.eye_size()[0], height=layout.eye_size()[1])
    chain = mono.filter_string() + f",scale={size[0]}:{size[1]}:flags=area,format=gray"
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         f"color=white:s={mono.width}x{mono.height}:d=0.04", "-frames:v", "1", "-vf", chain,
         "-f", "rawvideo", "pipe:1"],
        capture_output=True,
    )  # fmt: skip
    if proc.returncode != 0 or len(proc.stdout) < size[0] * size[1]:
        raise InputError(f"could not compute the seen part of a {w}x{h} {layout.projection} video: "
                         f"{proc.stderr.decode(errors='replace')[-300:]}")  # fmt: skip
    return np.frombuffer(proc.stdout, np.uint8)[: size[0] * size[1]].reshape(size[1], size[0]) > 127
