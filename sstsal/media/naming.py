"""Frame file names: ``<video>_<frame number>.png``, as the published code expects.

The published loader sorts by the integer after the first underscore; we accept any video
id that contains no underscore-digit suffix ambiguity by splitting on the *last* underscore,
so stems with underscores still work for the workflow (which names frames after the video).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sstsal.errors import InputError

FRAME_NAME = re.compile(r"^(?P<video>.+)_(?P<number>\d{4,})\.png$")


@dataclass(frozen=True, order=True)
class FrameName:
    """A parsed frame file name; sorts by frame number."""

    number: int
    video: str
    filename: str

    @property
    def stem(self) -> str:
        return self.filename[: -len(".png")]


def parse_frame_name(filename: str) -> FrameName:
    """Parse ``<video>_<number>.png`` (number: 4 or more digits); raise InputError otherwise."""
    match = FRAME_NAME.match(filename)
    if match is None:
        raise InputError(
            f"{filename!r} does not follow the frame naming pattern <video>_<frame number, 4+ digits>.png "
            "(e.g. 001_0042.png); rename the files or extract them with `sstsal extract`"
        )
    return FrameName(int(match["number"]), match["video"], filename)


def frame_name(video: str, number: int) -> str:
    """The file name of frame ``number`` of ``video``."""
    return f"{video}_{number:04d}.png"


def list_frames(folder: str | Path) -> list[FrameName]:
    """All ``*.png`` frames of ``folder`` sorted by frame number.

    Raises InputError when the folder is missing or empty, names do not follow the
    pattern, several videos are mixed, or a frame number repeats.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"frame folder {folder} does not exist or is not a folder")
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError(f"frame folder {folder} is empty: put the video's frames <video>_<number>.png there")
    bad = [f for f in files if FRAME_NAME.match(f) is None]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise InputError(
            f"{len(bad)} file(s) in {folder} do not follow the pattern <video>_<frame number, 4+ digits>.png: {shown}"
        )
    frames = sorted(parse_frame_name(f) for f in files)
    videos = sorted({f.video for f in frames})
    if len(videos) > 1:
        raise InputError(f"{folder} mixes frames of several videos ({', '.join(videos[:5])}): one folder per video")
    numbers = [f.number for f in frames]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        raise InputError(f"{folder} has several files for frame number(s) {dupes[:5]}")
    return frames


def match_flow(frames: list[FrameName], flow_folder: str | Path) -> list[Path]:
    """The flow image of each frame (same file name in ``flow_folder``); name the missing ones."""
    flow_folder = Path(flow_folder)
    if not flow_folder.is_dir():
        raise InputError(f"flow folder {flow_folder} does not exist or is not a folder")
    paths = [flow_folder / f.filename for f in frames]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"{len(missing)} frame(s) have no flow image of the same name in {flow_folder}: {shown}; "
            "compute flow with `sstsal flow` or use --no-flow"
        )
    return paths
