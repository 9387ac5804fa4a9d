"""Ground truth in the formats other tools read.

* **Salient360!**: the maps of all sampled frames as one raw float32 stack
  ``<video>_<W>x<H>x<F>_32b_salmap.bin`` (frame-major, rows top to bottom, as the Salient360!
  toolbox writes them; frames without fixations are zeros) and one scanpath CSV per observer,
  ``<video>_<observer>_fixation.csv`` with the toolbox's columns ``Fix_index, long_Gaze,
  lat_Gaze, Fix_time_start, Fix_duration`` (longitude and latitude as image fractions from the
  top-left corner, times in milliseconds of video time).
* **npz**: ``maps`` (uint16 ``(F, H, W)``, maximum 65535 = 1), ``frames`` (frame numbers),
  ``times_s`` (start of each frame's time), ``fps`` and ``sigma_deg``; lossless for the PNGs.
* **pysaliency**: a folder with ``stimuli/`` (one image per frame), ``saliency/`` (one ``.npy``
  map per frame: the saliency-map model), and ``fixations.csv`` (``x, y`` in pysaliency's pixel
  coordinates, ``n`` the stimulus index, ``subject``, ``t``); :func:`load_pysaliency` turns it
  into pysaliency's ``FileStimuli``, ``Fixations`` and ``SaliencyMapModelFromDirectory``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np

from sstsal.atomic import atomic_directory, atomic_file, write_text
from sstsal.errors import InputError
from sstsal.gaze import sphere
from sstsal.gaze.maps import GroundTruth, MapSettings, to_uint16
from sstsal.media.naming import frame_name


def _frame_rows(truth: GroundTruth, maps: Mapping[int, np.ndarray], settings: MapSettings, dtype) -> Iterator[np.ndarray]:
    """The map of each sampled frame in order (zeros where it has no fixation), one at a time."""
    zeros = np.zeros((settings.height, settings.width), dtype=dtype)
    for frame in truth.frames:
        if frame.number not in maps:
            yield zeros
        elif dtype == np.uint16:
            yield to_uint16(maps[frame.number])
        else:
            yield np.asarray(maps[frame.number], dtype=dtype)


def export_salient360(truth: GroundTruth, maps: Mapping[int, np.ndarray], out_dir: str | Path, settings: MapSettings) -> list[Path]:
    """The float32 ``.bin`` stack and one scanpath CSV per observer (see the module docstring);
    the stack is written a frame at a time."""
    out_dir = Path(out_dir)
    name = f"{truth.video}_{settings.width}x{settings.height}x{len(truth.frames)}_32b_salmap.bin"
    with atomic_file(out_dir / name) as tmp, open(tmp, "wb") as handle:
        for row in _frame_rows(truth, maps, settings, np.float32):
            handle.write(row.tobytes())
    written = [out_dir / name]
    for observer in truth.observers():
        lines = ["Fix_index, long_Gaze, lat_Gaze, Fix_time_start, Fix_duration"]
        mine = sorted((item for item in truth.fixations if item[0].observer == observer), key=lambda item: item[1])
        for index, (fixation, start, end) in enumerate(mine):
            u, v = sphere.angles_to_normalised(fixation.yaw, fixation.pitch)
            lines.append(f"{index},{float(u):.8f},{float(v):.8f},{start * 1000:.1f},{(end - start) * 1000:.1f}")
        path = out_dir / f"{truth.video}_{observer}_fixation.csv"
        write_text(path, "\n".join(lines) + "\n")
        written.append(path)
    return written


def export_npz(truth: GroundTruth, maps: Mapping[int, np.ndarray], path: str | Path, settings: MapSettings) -> Path:
    """The maps as a lossless 16-bit stack with frame numbers and times (see the module docstring),
    compressed a frame at a time (an ``np.savez_compressed`` file)."""
    small = {
        "frames": np.array([f.number for f in truth.frames], dtype=np.int64), "times_s": truth.timeline.windows()[:, 0],
        "fps": np.float64(truth.timeline.fps), "sigma_deg": np.float64(settings.sigma_deg),
    }  # fmt: skip
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint16)), "fortran_order": False,
              "shape": (len(truth.frames), settings.height, settings.width)}  # fmt: skip
    with atomic_file(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with archive.open("maps.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            for row in _frame_rows(truth, maps, settings, np.uint16):
                member.write(np.ascontiguousarray(row).tobytes())
        for key, value in small.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
    return Path(path)


def _placeholder(number: int, height: int, width: int) -> np.ndarray:
    """A grey image whose first pixels spell the frame number: pysaliency tells stimuli apart by content."""
    image = np.full((height, width, 3), 128, dtype=np.uint8)
    digits = f"{number:08d}"
    for i, digit in enumerate(digits[: width]):
        image[0, i] = 20 * int(digit)
    return image


def export_pysaliency(
    fixations: dict[int, tuple[np.ndarray, np.ndarray, list[str]]],
    model_maps: dict[int, np.ndarray],
    out_dir: str | Path,
    *,
    video: str,
    frames_dir: str | Path | None = None,
) -> Path:
    """A pysaliency dataset and saliency-map model for the frames that have both fixations and a map.

    ``fixations``: frame number -> (yaw, pitch, observers); ``model_maps``: frame number ->
    ``(H, W)`` map (the model pysaliency evaluates: predictions, or the ground truth itself);
    ``frames_dir``: the video frames as stimuli (resized to the map size), else placeholders.
    """
    numbers = sorted(set(fixations) & set(model_maps))
    if not numbers:
        raise InputError("no frame has both fixations and a saliency map to export for pysaliency")
    height, width = model_maps[numbers[0]].shape
    subjects = sorted({o for n in numbers for o in fixations[n][2]})
    rows = ["x,y,n,subject,observer,t"]
    with atomic_directory(out_dir) as tmp:
        (tmp / "stimuli").mkdir()
        (tmp / "saliency").mkdir()
        for index, number in enumerate(numbers):
            stem = frame_name(video, number)[: -len(".png")]
            image = None
            if frames_dir is not None:
                image = cv2.imread(str(Path(frames_dir) / f"{stem}.png"), cv2.IMREAD_COLOR)
                if image is None:
                    raise InputError(f"frame {stem}.png is missing from {frames_dir}: give the folder of this video's frames")
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(tmp / "stimuli" / f"{stem}.png"), _placeholder(number, height, width) if image is None else image)
            np.save(tmp / "saliency" / f"{stem}.npy", np.asarray(model_maps[number], dtype=np.float64))
            yaw, pitch, observers = fixations[number]
            u, v = sphere.angles_to_normalised(yaw, pitch)
            # pysaliency's pixel k spans [k, k + 1) (it truncates x to int), as our pixels do.
            xs = np.minimum(u * width, width - 1e-6)
            ys = np.clip(v * height, 0, height - 1e-6)
            for x, y, observer in zip(xs, ys, observers):
                rows.append(f"{x:.6f},{y:.6f},{index},{subjects.index(observer)},{observer},{number}")
        (tmp / "fixations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Path(out_dir)


def load_pysaliency(folder: str | Path):
    """``(stimuli, fixations, model)`` of an :func:`export_pysaliency` folder, as pysaliency objects."""
    import csv

    import pysaliency

    folder = Path(folder)
    images = sorted((folder / "stimuli").glob("*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))  # in stimulus index order
    stimuli = pysaliency.FileStimuli([str(p) for p in images])
    with (folder / "fixations.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fixations = pysaliency.Fixations.create_without_history(
        np.array([float(r["x"]) for r in rows]), np.array([float(r["y"]) for r in rows]),
        np.array([int(r["n"]) for r in rows]), subjects=np.array([int(r["subject"]) for r in rows]),
    )  # fmt: skip
    model = pysaliency.SaliencyMapModelFromDirectory(stimuli, str(folder / "saliency"))
    return stimuli, fixations, model
