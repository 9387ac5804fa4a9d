"""The saliency maps of one video as one file, written as they are produced, read a window at a time.

The file (``saliency.npz``) is a NumPy ``.npz`` archive with two members: ``names`` (N,), the
frame names without ``.png`` in frame order, and ``maps``, float16 (N, 240, 320), the model's raw
values (not the per-frame 8-bit rescaling of the PNGs). The workflow writes it uncompressed
(ZIP_STORED), so ``np.load(path)["maps"]`` still works and a reader reads any window straight
from its offset in the file: a stage holds the window it works on, never the whole video.

API (later stages and the viewer use only this):

* :class:`StackWriter`: ``with StackWriter(path, names) as out: out.append(map)`` for each frame
  in order (or ``out.extend(window)``); the file appears under its name only when every map is in
  (a failed or killed writer leaves nothing a later run would take for finished).
* :func:`open_stack` -> :class:`SaliencyStack`: ``len(stack)``, ``stack.names``,
  ``stack.frames`` (source frame indices), ``stack.times(fps)``, ``stack.window(start, stop)``,
  ``stack.map(i)``, ``stack.windows(size)`` (an iterator of ``(start, maps)``).

Also read: the compressed stacks of earlier versions (``np.savez_compressed``: decompressed as a
stream, window after window) and ``sstsal predict --save-raw``'s ``raw.npz`` (one map per frame).
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from sstsal.atomic import atomic_file
from sstsal.errors import InputError
from sstsal.media.naming import parse_frame_name

MAP_SHAPE = (240, 320)
WINDOW = 64  # maps per window read by the iterators (64 x 150 KB float16 = 10 MB)

# The stack's metadata of warm-up maps: member ``warmup``, (N,) bool in the order of ``names``,
# True where the map had less temporal context than the model's warm-up (see
# sstsal.model.predictor.warmup_frames). A stack without it (older, or raw.npz) marks none.
WARMUP_MEMBER = "warmup"


def warmup_flags(names: Sequence[str], warmup: Collection[str]) -> np.ndarray:
    """(N,) bool: which of ``names`` are in ``warmup`` (the ``warmup`` member of a stack)."""
    warmup = set(warmup)
    return np.array([str(n) in warmup for n in names], dtype=bool)


def frame_order(names: Sequence[str]) -> np.ndarray:
    """The order that sorts frame names (``<video>_<number>``) by frame number."""
    return np.argsort([parse_frame_name(f"{stem}.png").number for stem in names], kind="stable")


def source_frames(names: Sequence[str]) -> np.ndarray:
    """Source frame indices (int64) of names ``<video>_<index>``."""
    return np.array([int(str(n).rsplit("_", 1)[1]) for n in names], dtype=np.int64)


def _ascending(names: Sequence[str]) -> bool:
    """Whether names ``<video>_<index>`` are in ascending frame order (names of another form pass)."""
    try:
        return not np.any(np.diff(source_frames(names)) <= 0)
    except (IndexError, ValueError):
        return True


class StackWriter:
    """Append the maps of ``names`` (in that order) to the stack at ``path``; on leaving the ``with``
    block every map must be in, and the file appears (atomically). An exception leaves no file.

    Args:
        path: the stack file (``.npz``).
        names: frame names without ``.png``, in frame order (sorted by frame number).
        shape: (H, W) of every map.
        warmup: the names of the warm-up maps (stored as the ``warmup`` member, :data:`WARMUP_MEMBER`).
    """

    def __init__(
        self, path: str | os.PathLike, names: Sequence[str], *, shape: tuple[int, int] = MAP_SHAPE,
        warmup: Collection[str] = (),
    ) -> None:  # fmt: skip
        self.path, self.shape = Path(path), tuple(shape)
        self.names = np.asarray(list(names), dtype=str)
        self.warmup = warmup_flags(self.names, warmup)
        if not _ascending(self.names):
            raise ValueError("stack names must be in ascending frame order, each once")
        self.count = 0
        self._atomic = None

    def __enter__(self) -> StackWriter:
        self._atomic = atomic_file(self.path)
        tmp = self._atomic.__enter__()
        self._zip = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        with self._zip.open("names.npy", "w") as member:
            np.lib.format.write_array(member, self.names, allow_pickle=False)
        with self._zip.open(f"{WARMUP_MEMBER}.npy", "w") as member:
            np.lib.format.write_array(member, self.warmup, allow_pickle=False)
        self._maps = self._zip.open("maps.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False,
                  "shape": (len(self.names), *self.shape)}  # fmt: skip
        np.lib.format.write_array_header_2_0(self._maps, header)
        return self

    def append(self, saliency_map: np.ndarray) -> None:
        """Add the next frame's map (H, W), any float dtype (stored as float16)."""
        self.extend(np.asarray(saliency_map)[None])

    def extend(self, maps: np.ndarray) -> None:
        """Add the next frames' maps (K, H, W)."""
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[1:] != self.shape:
            raise ValueError(f"maps of shape (K, {self.shape[0]}, {self.shape[1]}) expected, got {maps.shape}")
        if self.count + len(maps) > len(self.names):
            raise ValueError(f"more maps than the {len(self.names)} frame names of {self.path}")
        self._maps.write(np.ascontiguousarray(maps.astype(np.float32).astype(np.float16)).tobytes())
        self.count += len(maps)

    def __exit__(self, kind, value, traceback) -> bool:
        self._maps.close()
        self._zip.close()
        if kind is None and self.count != len(self.names):
            error = ValueError(f"{self.path}: {self.count} maps written for {len(self.names)} frame names")
            self._atomic.__exit__(ValueError, error, None)  # removes the temporary file
            raise error
        return bool(self._atomic.__exit__(kind, value, traceback))  # renames it onto its name, or removes it


def save_stack(path: str | os.PathLike, maps: dict[str, np.ndarray], *, warmup: Collection[str] = ()) -> None:
    """Write {frame stem: (240, 320) map} (any order) as a stack (see :class:`StackWriter`);
    ``warmup``: the stems of warm-up maps."""
    names = [list(maps)[i] for i in frame_order(list(maps))]
    shape = np.asarray(maps[names[0]]).shape if names else MAP_SHAPE
    with StackWriter(path, names, shape=shape, warmup=warmup) as out:
        for name in names:
            out.append(maps[name])


def _member_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored member's data in the archive (after its local file header)."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length


class SaliencyStack:
    """A saliency stack open for reading (see the module docstring); use :func:`open_stack`.

    Holds the names and an open file: reading a window costs that window's memory only (an
    uncompressed stack is read at the window's offset; a compressed one as a stream, forward).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._zip = zipfile.ZipFile(self.path)
        files = {i.filename: i for i in self._zip.infolist()}
        self._file = None
        self._stream = None
        self._raw: list[str] | None = None
        self._cache: tuple[int, np.ndarray] | None = None
        if "maps.npy" in files and "names.npy" in files:
            with self._zip.open("names.npy") as member:
                self.names = np.lib.format.read_array(member, allow_pickle=False).astype(str)
            info = files["maps.npy"]
            with self._zip.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(member)
                self._header = member.tell()
            if fortran or len(shape) != 3 or shape[0] != len(self.names):
                raise KeyError(f"maps {shape} do not match the {len(self.names)} names")
            self.shape, self.dtype = tuple(shape[1:]), np.dtype(dtype)
            if info.compress_type == zipfile.ZIP_STORED:
                # plain reads at a window's offset, not a memory map: mapped pages count as the
                # process's resident memory, and an hour of maps is 4 GB of them
                self._offset = _member_offset(self.path, info) + self._header
                self._file = open(self.path, "rb")
            else:
                self._info = info
        else:
            members = [n[:-4] for n in files if n.endswith(".npy")]
            if not members:
                raise KeyError("neither a saliency stack (maps, names) nor raw.npz (one 2-D map per frame name)")
            try:
                self.names = np.asarray([members[i] for i in frame_order(members)], dtype=str)
            except InputError:
                raise KeyError("neither a saliency stack (maps, names) nor raw.npz (one 2-D map per frame name)") from None
            self._raw = list(self.names)
            first = self._read_raw(0)
            if first.ndim != 2:
                raise KeyError("neither a saliency stack (maps, names) nor raw.npz (one 2-D map per frame name)")
            self.shape, self.dtype = first.shape, first.dtype
        if not _ascending(self.names):
            raise KeyError("the stack's frame names are not in ascending frame order")
        self.warmup = np.zeros(len(self.names), dtype=bool)  # (N,) bool: the warm-up maps
        if f"{WARMUP_MEMBER}.npy" in files:
            with self._zip.open(f"{WARMUP_MEMBER}.npy") as member:
                flags = np.lib.format.read_array(member, allow_pickle=False).astype(bool)
            if flags.shape == self.warmup.shape:
                self.warmup = flags

    def __len__(self) -> int:
        return len(self.names)

    @property
    def frames(self) -> np.ndarray:
        """(N,) int64 source frame index of each map (from the names ``<video>_<index>``)."""
        return source_frames(self.names)

    def times(self, fps: float) -> np.ndarray:
        """(N,) float64 time in seconds of each map in a video of ``fps`` frames per second."""
        return self.frames / float(fps)

    def _read_raw(self, index: int) -> np.ndarray:
        with self._zip.open(f"{self._raw[index]}.npy") as member:
            return np.lib.format.read_array(member, allow_pickle=False)

    def window(self, start: int, stop: int) -> np.ndarray:
        """Maps ``[start, stop)`` as float16 (K, H, W) (a copy; clipped to the stack)."""
        start, stop = max(0, start), min(len(self), stop)
        if stop <= start:
            return np.zeros((0, *self.shape), dtype=np.float16)
        frame_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        if self._file is not None:
            self._file.seek(self._offset + start * frame_bytes)
            data = self._file.read((stop - start) * frame_bytes)
            return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, *self.shape).astype(np.float16)
        if self._raw is not None:
            return np.stack([self._read_raw(i).astype(np.float32) for i in range(start, stop)]).astype(np.float16)
        if self._stream is None or self._stream_at > start:  # a compressed member reads forward only
            if self._stream is not None:
                self._stream.close()
            self._stream = self._zip.open(self._info)
            self._stream.seek(self._header)
            self._stream_at = 0
        if self._stream_at < start:
            self._stream.seek((start - self._stream_at) * frame_bytes, os.SEEK_CUR)
        data = self._stream.read((stop - start) * frame_bytes)
        self._stream_at = stop
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, *self.shape).astype(np.float16)

    def map(self, index: int) -> np.ndarray:
        """One map (H, W) float16; consecutive calls in frame order read a window at a time."""
        if not 0 <= index < len(self):
            raise IndexError(f"map {index} of a stack of {len(self)}")
        if self._cache is None or not self._cache[0] <= index < self._cache[0] + len(self._cache[1]):
            self._cache = (index, self.window(index, index + WINDOW))
        return self._cache[1][index - self._cache[0]]

    def windows(self, size: int = WINDOW, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(first index, maps (K, H, W) float16)`` for consecutive windows of ``size`` maps."""
        stop = len(self) if stop is None else min(stop, len(self))
        for first in range(start, stop, size):
            yield first, self.window(first, min(first + size, stop))

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._file is not None:
            self._file.close()
        self._zip.close()

    def __enter__(self) -> SaliencyStack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_stack(path: str | os.PathLike) -> SaliencyStack:
    """Open a saliency stack (or raw.npz) for reading; raises KeyError for another kind of npz,
    OSError/zipfile.BadZipFile for a file that is no npz."""
    return SaliencyStack(path)


def read_warmup(path: str | os.PathLike) -> set[str]:
    """The names of a stack's warm-up maps (its ``warmup`` member); empty when it has none."""
    with open_stack(path) as stack:
        return {str(n) for n, warm in zip(stack.names, stack.warmup) if warm}


def load_stack(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Every map of a stack, float16 (N, H, W), and the frame names: for tests and small stacks;
    stages read windows (:func:`open_stack`)."""
    with open_stack(path) as stack:
        return stack.window(0, len(stack)), [str(n) for n in stack.names]


def unseen_masked_map(saliency_map: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """One map (H, W) with every direction outside ``seen`` set to the frame's lowest seen value
    (float32): after per-frame normalisation it is 0 there, so no later stage points at it."""
    if seen is None:
        return saliency_map
    saliency_map = np.asarray(saliency_map)
    return np.where(seen, saliency_map, saliency_map[seen].min()).astype(np.float32)


def unseen_masked(maps: dict[str, np.ndarray], seen: np.ndarray | None) -> dict[str, np.ndarray]:
    """:func:`unseen_masked_map` of each map of ``maps``."""
    if seen is None:
        return maps
    return {name: unseen_masked_map(m, seen) for name, m in maps.items()}


def seen_directions(info_path: str | os.PathLike | None, size: tuple[int, int] = (320, 240)) -> np.ndarray | None:
    """(H, W) bool of the directions a half-sphere video (VR180) covers, at the maps' ``size``
    (w, h), from its probe record; None for a full-sphere video or without a record."""
    from sstsal.media.projection import seen_mask
    from sstsal.media.video import VideoInfo

    if not info_path:
        return None
    return seen_mask(VideoInfo.from_json(info_path).layout, size)
