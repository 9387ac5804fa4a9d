"""Readers of gaze recordings: every format becomes :class:`GazeSamples` per observer.

Formats (``FORMATS``):

* ``plain`` - the format to convert anything else into: a CSV with columns ``time_s``,
  ``observer`` and ``yaw,pitch`` (degrees, ``directions.csv`` conventions: yaw 0 at the image
  centre, positive to the right, pitch positive up); instead of ``yaw,pitch`` also ``x,y,z``
  (unit vector, x right, y up, z towards the image centre) or ``u,v`` (image fractions from
  the top-left corner) or ``x,y,width,height`` (equirectangular pixel position in an image of that
  size). Optional ``frame`` (video frame index shown). Without an ``observer``
  column the file name is the observer.
* ``salient360`` - the raw CSV of the Salient360! recordings (head Euler angles or quaternion
  plus eye-in-head direction per eye; columns found by name as the Salient360! toolbox finds
  them). Rows whose last two fields are fused (``666.8586True``) are repaired, rows of a
  previous trial before the first frame-0 row are dropped, invalid samples (NaN or zero eye
  direction) are dropped; all counted in :attr:`GazeSamples.notes`.
* ``vr-eyetracking`` - VR-EyeTracking (Xu et al., CVPR 2018): one text file per observer and
  video, lines ``frame, <frame index from 1>, forward, <head x>, <head y>, eye, <gaze x>,
  <gaze y>`` with positions as fractions of the panorama from its bottom-left corner.
* ``pvs-hm`` - PVS-HM (Xu et al., TPAMI 2018): a MATLAB file with one matrix per video, two
  columns per subject (latitude, longitude of the head in degrees, longitude positive to the
  left), sampled at twice the video frame rate. Head movement only.
* ``d-sav360`` - D-SAV360 (Bernal-Berdun et al., 2023): CSVs with columns ``video, frame, u,
  v, id, t`` (u, v image fractions from the top-left corner; ``frame`` the video frame shown).
  Rows at frame 0 with u = v = 0.5 are the dataset's known erroneous samples and are dropped.
  Its own fixation labels (``fixation`` and ``valid_fix_classification`` both 1) are kept for
  ``--fixations recorded``.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sstsal.errors import InputError
from sstsal.gaze import sphere

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("plain", "salient360", "vr-eyetracking", "pvs-hm", "d-sav360")
EYES: tuple[str, ...] = ("right", "left", "mean", "head")


@dataclass
class GazeSamples:
    """The gaze samples of one observer watching one video, in recording order."""

    observer: str
    time_s: np.ndarray  # (N,) seconds on the recording's clock, increasing
    yaw: np.ndarray  # (N,) degrees
    pitch: np.ndarray  # (N,) degrees
    frame: np.ndarray | None = None  # (N,) video frame index shown, when the format records it
    notes: list[str] = field(default_factory=list)  # what the reader repaired or dropped
    # Where a format records them apart (salient360): the head's rotation into video directions
    # (N, 3, 3) and the eye's direction in the head (N, 3), gaze = head @ eye; resampling uses them.
    head: np.ndarray | None = None
    eye: np.ndarray | None = None
    # (N,) bool: the dataset's own fixation labels, where it publishes them (d-sav360)
    recorded_fixation: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.time_s)
        parts = (self.yaw, self.pitch, self.frame, self.head, self.eye, self.recorded_fixation)
        if any(len(a) != n for a in parts if a is not None):
            raise ValueError("time, yaw, pitch, frame, head, eye and fixation labels must have one value per sample")

    def select(self, keep: np.ndarray) -> GazeSamples:
        """The samples where ``keep`` is True."""
        def part(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[keep]

        return GazeSamples(self.observer, self.time_s[keep], self.yaw[keep], self.pitch[keep], part(self.frame),
                           list(self.notes), head=part(self.head), eye=part(self.eye),
                           recorded_fixation=part(self.recorded_fixation))  # fmt: skip


def seconds_per_unit(timestamps: np.ndarray) -> float:
    """The unit of raw eye-tracker timestamps, guessed from the median sample interval.

    Eye trackers sample at 30 Hz to 2 kHz, so the interval lies between 0.5 and 35 ms: a
    median interval above 1e5 is in nanoseconds, above 100 microseconds, above 0.1
    milliseconds, else seconds.
    """
    steps = np.diff(timestamps[np.isfinite(timestamps)])
    steps = steps[steps > 0]
    if len(steps) == 0:
        raise InputError("the timestamps never increase: check the time column")
    median = float(np.median(steps))
    for threshold, unit in ((1e5, 1e-9), (100.0, 1e-6), (0.1, 1e-3)):
        if median > threshold:
            return unit
    return 1.0


def _clean(name: str) -> str:
    """Column names compared as the Salient360! toolbox does: lower case, letters only."""
    return re.sub("[^a-z]", "", name.lower())


def _find(header: list[str], *names: str) -> int | None:
    cleaned = [_clean(h) for h in header]
    for name in names:
        if name in cleaned:
            return cleaned.index(name)
    return None


def _floats(rows: list[list[str]], index: int) -> np.ndarray:
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        try:
            out[i] = float(row[index])
        except (ValueError, IndexError):
            out[i] = np.nan
    return out


_FUSED = re.compile(r"^([-+0-9.eE]+)(True|False)$")  # a number fused with a validity flag


def read_salient360(path: str | Path, *, eye: str = "right", observer: str | None = None) -> GazeSamples:
    """One Salient360! raw gaze CSV (see the module docstring). ``eye``: right (the toolbox's
    default), left, mean (both eyes averaged) or head (head direction only)."""
    path = Path(path)
    if eye not in EYES:
        raise InputError(f"unknown eye {eye!r}: use one of {', '.join(EYES)}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 3:
        raise InputError(f"{path} holds no gaze samples: expected a header line and one line per sample")
    header, rows = rows[0], [r for r in rows[1:] if r]
    notes: list[str] = []
    fused = 0
    for row in rows:
        if len(row) == len(header) - 1:
            for i, value in enumerate(row):
                match = _FUSED.match(value)
                if match and match.group(1):
                    row[i : i + 1] = [match.group(1), match.group(2)]
                    fused += 1
                    break
    if fused:
        notes.append(f"repaired {fused} row(s) whose last two fields were fused (e.g. 666.8586True)")
    columns = {
        "ts": _find(header, "oculots", "oculotimestamp", "ocutimestamp", "etts", "timestamp", "ts"),
        "frame": _find(header, "currframe", "frame", "frameindex"),
        "pitch": _find(header, "campitch", "pitchcam", "headpitch", "pitch"),
        "yaw": _find(header, "camyaw", "yawcam", "headyaw", "yaw"),
        "roll": _find(header, "camroll", "rollcam", "headroll", "roll"),
        "qw": _find(header, "wcam", "camw", "headw", "camerarotationw", "cameraquaternionw", "camrotationw", "camquaternionw",
                       "headrotationw", "headquaternionw"),
        "qx": _find(header, "xcam", "camx", "headx", "camerarotationx", "cameraquaternionx", "camrotationx", "camquaternionx",
                       "headrotationx", "headquaternionx"),
        "qy": _find(header, "ycam", "camy", "heady", "camerarotationy", "cameraquaterniony", "camrotationy", "camquaterniony",
                       "headrotationy", "headquaterniony"),
        "qz": _find(header, "zcam", "camz", "headz", "camerarotationz", "cameraquaternionz", "camrotationz", "camquaternionz",
                       "headrotationz", "headquaternionz"),
    }
    for prefix, names in (("r", ("rightgazedir", "rightgaze", "rgaze")), ("l", ("leftgazedir", "leftgaze", "lgaze")),
                          ("m", ("meangazedir", "bingazedir", "bingaze"))):  # fmt: skip
        for axis in "xyz":
            columns[prefix + axis] = _find(header, *(n + axis for n in names))
    if columns["ts"] is None:
        raise InputError(f"{path}: no timestamp column (oculoTS, timestamp, ...): is this a Salient360! raw gaze file?")
    quaternion = all(columns[k] is not None for k in ("qw", "qx", "qy", "qz"))
    euler = all(columns[k] is not None for k in ("pitch", "yaw", "roll"))
    if not (quaternion or euler):
        raise InputError(f"{path}: no head rotation columns (cam_pitch, cam_yaw, cam_roll or a quaternion)")
    needed = {"right": ["r"], "left": ["l"], "mean": ["m"] if columns["mx"] is not None else ["r", "l"], "head": []}[eye]
    for prefix in needed:
        if any(columns[prefix + a] is None for a in "xyz"):
            raise InputError(f"{path}: no {eye} eye direction columns (e.g. {eye}GazeDir.x/y/z); choose another eye")

    time = _floats(rows, columns["ts"])
    frame = _floats(rows, columns["frame"]) if columns["frame"] is not None else None
    if quaternion:
        rotation = sphere.quaternion_matrices(*(_floats(rows, columns[k]) for k in ("qw", "qx", "qy", "qz")))
    else:
        rotation = sphere.euler_yxz_matrices(*(_floats(rows, columns[k]) for k in ("pitch", "yaw", "roll")))
    if eye == "head":
        eye_dir = np.tile([0.0, 0.0, 1.0], (len(rows), 1))
    else:
        parts = [np.stack([_floats(rows, columns[p + a]) for a in "xyz"], axis=1) for p in needed]
        eye_dir = sum(parts) / len(parts)
    valid = np.isfinite(time) & np.all(np.isfinite(eye_dir), axis=1) & np.all(np.isfinite(rotation), axis=(1, 2))
    # Trackers write all zeros or all -1 for a lost eye.
    sums = eye_dir.sum(axis=1)
    valid &= ~np.isclose(sums, 0.0) & ~np.isclose(sums, -3.0)
    keep = np.ones(len(rows), dtype=bool)
    if frame is not None and np.isfinite(frame).any():
        first = int(np.nanargmin(frame))
        if first > 0:
            notes.append(f"dropped {first} leading row(s) of a previous trial (frame {frame[0]:.0f} before frame {frame[first]:.0f})")
            keep[:first] = False
    invalid = int((keep & ~valid).sum())
    if invalid:
        notes.append(f"dropped {invalid} sample(s) without a valid eye direction (blinks, tracking lost)")
    keep &= valid
    if keep.sum() < 2:
        raise InputError(f"{path}: fewer than 2 valid gaze samples")
    world = np.einsum("nij,nj->ni", rotation[keep], eye_dir[keep])
    yaw, pitch = salient360_world_to_angles(world)
    seconds = (time[keep] - time[keep][0]) * seconds_per_unit(time[keep])
    return GazeSamples(observer or path.stem, seconds, yaw, pitch, None if frame is None else frame[keep].astype(np.int64), notes,
                       head=SALIENT360_TO_VIDEO @ rotation[keep], eye=eye_dir[keep])  # fmt: skip


# The placement below as a rotation: a scene direction (x, y, z) is the video direction (-z, -y, -x).
SALIENT360_TO_VIDEO = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])


def salient360_world_to_angles(world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directions in the Salient360! scene (Unity: x right, y up, z forward) -> video yaw, pitch.

    The placement of the video sphere in that scene as the Salient360! toolbox reads it (and as
    the dataset's published maps are drawn): the scene's forward direction is a quarter turn left
    of the video centre (u = 0.25), and longitude and latitude both run opposite to the scene's
    yaw and pitch, i.e. the video is the scene turned half a turn about its x axis.
    """
    x, y, z = world[:, 0], world[:, 1], world[:, 2]
    norm = np.sqrt(x * x + y * y + z * z)
    u = (np.arctan2(z, x) / (2 * np.pi)) % 1.0
    yaw = u * 360.0 - 180.0
    pitch = -np.degrees(np.arcsin(np.clip(y / norm, -1.0, 1.0)))
    return yaw, pitch


def format_of_columns(header: list[str]) -> str | None:
    """The CSV format (other than plain) whose columns ``header`` has, or None."""
    if {"video", "frame", "u", "v", "id", "t"} <= {h.strip() for h in header}:
        return "d-sav360"
    head = [h for h in header if h]
    has_time = _find(head, "oculots", "oculotimestamp", "ocutimestamp", "etts", "timestamp", "ts") is not None
    has_head = all(_find(head, n) is not None for n in ("campitch", "camyaw", "camroll")) or any(
        _find(head, n) is not None for n in ("wcam", "camw", "headw", "camerarotationw", "camrotationw")
    )
    return "salient360" if has_time and has_head else None


def read_plain(path: str | Path) -> list[GazeSamples]:
    """The plain CSV (see the module docstring): one :class:`GazeSamples` per observer."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip().lower(): name for name in (reader.fieldnames or [])}
        rows = list(reader)
    kinds = [k for k, cols in (("angles", ("yaw", "pitch")), ("vector", ("x", "y", "z")), ("fractions", ("u", "v")),
                               ("pixels", ("x", "y", "width", "height")))
             if all(c in header for c in cols)]  # fmt: skip
    if "time_s" not in header or not kinds:
        known = format_of_columns(reader.fieldnames or [])
        hint = f": they are the {known} format's columns, give --format {known} (gaze.format: {known} in the workflow)" if known else ""
        raise InputError(
            f"{path} needs the columns time_s, observer and yaw,pitch (degrees; or x,y,z unit vectors, u,v image "
            f"fractions, or x,y,width,height pixels); it has {', '.join(reader.fieldnames or []) or 'no header'}{hint}"
        )
    if not rows:
        raise InputError(f"{path} holds no gaze samples")

    def column(name: str) -> np.ndarray:
        try:
            return np.array([float(row[header[name]]) for row in rows])
        except ValueError as exc:
            raise InputError(f"{path}: column {name} holds a value that is not a number ({exc})") from None

    time = column("time_s")
    if kinds[0] == "angles":
        yaw, pitch = column("yaw"), column("pitch")
        if np.any(np.abs(pitch) > 90):
            raise InputError(f"{path}: pitch must lie in [-90, 90] degrees (positive up)")
        yaw = (yaw + 180.0) % 360.0 - 180.0
    elif kinds[0] == "vector":
        yaw, pitch = sphere.to_angles(np.stack([column("x"), column("y"), column("z")], axis=1))
    elif kinds[0] == "pixels":
        # Equirectangular pixel positions (column, row from the top-left) in an image of width x height.
        yaw, pitch = sphere.normalised_to_angles(column("x") / column("width"), column("y") / column("height"))
    else:
        yaw, pitch = sphere.normalised_to_angles(column("u"), column("v"))
    frame = column("frame").astype(np.int64) if "frame" in header else None
    observers = np.array([row[header["observer"]].strip() for row in rows]) if "observer" in header else np.full(len(rows), path.stem)
    out = []
    for name in dict.fromkeys(observers):
        keep = observers == name
        order = np.argsort(time[keep], kind="stable")
        out.append(GazeSamples(str(name), time[keep][order], yaw[keep][order], pitch[keep][order],
                               None if frame is None else frame[keep][order]))  # fmt: skip
    return out


def read_vr_eyetracking(path: str | Path, *, fps: float, head_only: bool = False, observer: str | None = None) -> GazeSamples:
    """One VR-EyeTracking text file (one observer, one video); ``fps`` is the video's frame rate,
    since the file counts frames (from 1), not seconds."""
    path = Path(path)
    frames, head, gaze = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = [f.strip() for f in line.split(",")]
        if not line.strip():
            continue
        if len(fields) < 8:
            raise InputError(f"{path}, line {number}: expected 8 comma-separated fields (frame, index, forward, head x, head y, eye, gaze x, gaze y)")
        try:
            frames.append(int(float(fields[1])))
            head.append((float(fields[3]), float(fields[4])))
            gaze.append((float(fields[6]), float(fields[7])))
        except ValueError:
            raise InputError(f"{path}, line {number}: the frame index and the positions must be numbers") from None
    if not frames:
        raise InputError(f"{path} holds no gaze samples")
    positions = np.array(head if head_only else gaze)
    # Fractions from the bottom-left corner: v from the top is 1 - y.
    yaw, pitch = sphere.normalised_to_angles(positions[:, 0], 1.0 - positions[:, 1])
    frame = np.array(frames, dtype=np.int64) - 1
    return GazeSamples(observer or path.parent.name, frame / fps, yaw, pitch, frame)


def read_pvs_hm(path: str | Path, video: str, *, fps: float) -> list[GazeSamples]:
    """The head movements of every subject for ``video`` from PVS-HM's MATLAB file."""
    from scipy.io import loadmat

    path = Path(path)
    data = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    if video not in data:
        raise InputError(f"{path} has no matrix for video {video!r}; it has {', '.join(sorted(data)[:8])}: name the video as the file does")
    matrix = np.asarray(data[video], dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] % 2:
        raise InputError(f"{path}: the matrix of {video} must have two columns (latitude, longitude) per subject, got shape {matrix.shape}")
    # Sampled at twice the video frame rate.
    time = np.arange(matrix.shape[0]) / (2.0 * fps)
    out = []
    for subject in range(matrix.shape[1] // 2):
        lat, lon = matrix[:, 2 * subject], matrix[:, 2 * subject + 1]
        keep = np.isfinite(lat) & np.isfinite(lon)
        if keep.sum() < 2:
            continue
        yaw = (-lon[keep] + 180.0) % 360.0 - 180.0  # PVS-HM's longitude grows to the left
        frame = np.floor(time[keep] * fps).astype(np.int64)
        out.append(GazeSamples(f"subject{subject + 1:02d}", time[keep], yaw, lat[keep], frame))
    if not out:
        raise InputError(f"{path}: no subject has head movement data for {video}")
    return out


def read_dsav360(path: str | Path, video: str | None = None) -> list[GazeSamples]:
    """D-SAV360 gaze CSV(s): one :class:`GazeSamples` per participant ``id`` of ``video``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"video", "frame", "u", "v", "id", "t"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path} is not a D-SAV360 gaze CSV: it lacks the column(s) {', '.join(sorted(missing))}")
        rows = list(reader)
    if video is not None:
        wanted = {video, video.lstrip("0") or "0"}
        rows = [r for r in rows if r["video"].strip() in wanted or r["video"].strip().lstrip("0") in wanted]
    if not rows:
        raise InputError(f"{path} holds no samples" + (f" of video {video!r}" if video else ""))
    frame = np.array([int(float(r["frame"])) for r in rows])
    u = np.array([float(r["u"]) for r in rows])
    v = np.array([float(r["v"]) for r in rows])
    t = np.array([float(r["t"]) for r in rows])
    ids = np.array([r["id"].strip() for r in rows])
    # The dataset's own classification: fixation samples whose classification it holds valid.
    labelled = all(k in rows[0] for k in ("fixation", "valid_fix_classification"))
    recorded = (np.array([float(r["fixation"]) == 1 and float(r["valid_fix_classification"]) == 1 for r in rows])
                if labelled else None)  # fmt: skip
    erroneous = (frame == 0) & (u == 0.5) & (v == 0.5)
    unit = seconds_per_unit(np.sort(t[ids == ids[0]]))  # one unit for the file, also for observers with one sample
    out = []
    for name in dict.fromkeys(ids):
        keep = (ids == name) & ~erroneous & np.isfinite(u) & np.isfinite(v) & np.isfinite(t)
        order = np.argsort(t[keep], kind="stable")
        yaw, pitch = sphere.normalised_to_angles(u[keep][order], v[keep][order])
        times = t[keep][order]
        seconds = (times - times[0]) * unit
        notes = [f"dropped {int(((ids == name) & erroneous).sum())} erroneous sample(s) at frame 0 with u = v = 0.5"]
        labels = None if recorded is None else recorded[keep][order]
        out.append(GazeSamples(name, seconds, yaw, pitch, frame[keep][order], notes, recorded_fixation=labels))
    return out


EXTENSIONS = {"plain": ".csv", "salient360": ".csv", "d-sav360": ".csv", "vr-eyetracking": ".txt", "pvs-hm": ".mat"}
MULTI_VIDEO = ("pvs-hm", "d-sav360")  # formats whose files hold several videos


def recordings_for(root: str | Path, video: str, fmt: str) -> list[Path]:
    """The recordings of ``video`` in a gaze folder: ``root/<video>/`` (one file per observer) or
    ``root/<video><ext>``; for formats holding several videos per file, every file of ``root``
    that names ``video``. Empty when the video has none."""
    root, ext = Path(root), EXTENSIONS[fmt]
    if fmt in MULTI_VIDEO:
        return [p for p in sorted(root.glob(f"*{ext}")) if video in _videos_in(p, fmt)]
    if (root / video).is_dir():
        return sorted(p for p in (root / video).rglob(f"*{ext}") if not p.name.startswith("."))
    single = root / f"{video}{ext}"
    return [single] if single.is_file() else []


def _videos_in(path: Path, fmt: str) -> set[str]:
    if fmt == "pvs-hm":
        from scipy.io import whosmat

        return {name for name, _, _ in whosmat(str(path))}
    with path.open(newline="", encoding="utf-8") as handle:
        values = {row.get("video", "").strip() for row in csv.DictReader(handle)}
    return values | {v.lstrip("0") or "0" for v in values} | {v.zfill(4) for v in values}


def read_gaze(
    paths: list[str | Path],
    fmt: str,
    *,
    video: str | None = None,
    fps: float | None = None,
    eye: str = "right",
) -> list[GazeSamples]:
    """All observers of one video from ``paths`` (files, or folders searched recursively).

    ``video``: the video's name (PVS-HM and D-SAV360 files hold several videos); ``fps``: the
    video's frame rate (the formats that count frames instead of seconds need it); ``eye``: for
    formats with eye and head data, which to use (``head``: head direction only).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown gaze format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt in ("vr-eyetracking", "pvs-hm") and not fps:
        raise InputError(f"the {fmt} format counts video frames: give the video (--video) or its frame rate (--fps)")
    if fmt == "pvs-hm" and not video:
        raise InputError("the pvs-hm file holds every video: give the video's name (--name) as the file spells it")
    patterns = {"plain": "*.csv", "salient360": "*.csv", "d-sav360": "*.csv", "vr-eyetracking": "*.txt", "pvs-hm": "*.mat"}
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = sorted(p for p in entry.rglob(patterns[fmt]) if not p.name.startswith("."))
            if not found:
                raise InputError(f"gaze folder {entry} holds no {patterns[fmt]} files of the {fmt} format")
            files += found
        elif entry.is_file():
            files.append(entry)
        else:
            raise InputError(f"gaze recording {entry} does not exist")
    samples: list[GazeSamples] = []
    # One file per observer: the observer is the file's name, or its folder's where the names repeat
    # (VR-EyeTracking's own layout, <person>/<video>.txt).
    stems = [p.stem for p in files]
    by_folder = len(set(stems)) < len(stems)
    for path in files:
        if fmt == "plain":
            samples += read_plain(path)
        elif fmt == "salient360":
            samples.append(read_salient360(path, eye=eye, observer=path.parent.name if by_folder else path.stem))
        elif fmt == "vr-eyetracking":
            samples.append(read_vr_eyetracking(path, fps=fps, head_only=eye == "head", observer=path.parent.name if by_folder else path.stem))
        elif fmt == "pvs-hm":
            samples += read_pvs_hm(path, video, fps=fps)
        else:
            samples += read_dsav360(path, video)
    names = [s.observer for s in samples]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        # One file per observer named alike (e.g. in per-observer folders): tell them apart by file order.
        counts: dict[str, int] = {}
        for s in samples:
            if s.observer in duplicates:
                counts[s.observer] = counts.get(s.observer, 0) + 1
                s.observer = f"{s.observer}-{counts[s.observer]}"
    for s in samples:
        for note in s.notes:
            log.info("%s: %s", s.observer, note)
    return samples
