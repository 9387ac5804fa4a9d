"""Naming validation: frames and flow images must form one consistent set before inference.

The published loader pairs a frame with the flow image of the same name and orders frames by
the number after the underscore, so a gap, a stray file or a truncated PNG silently shifts the
model's time axis. These checks find such problems up front and name the offending files.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from PIL import Image

from sstsal.atomic import write_text
from sstsal.errors import InputError
from sstsal.media.naming import FRAME_NAME, FrameName, parse_frame_name

# Bump when a change alters validation.json (triggers reruns through workflow params).
OUTPUT_VERSION = 1

_SHOW = 5  # offending files named per problem


def _shown(items: list[str]) -> str:
    more = f" and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return ", ".join(items[:_SHOW]) + more


def _image_sizes(folder: Path, names: list[str], problems: list[str], what: str) -> Counter:
    """Check every PNG is complete (chunk checksums, without decoding pixels); count sizes."""
    sizes: dict[str, tuple[int, int]] = {}
    unreadable: list[str] = []
    for filename in names:
        try:
            with Image.open(folder / filename) as image:
                size = image.size
                image.verify()
            sizes[filename] = size
        except Exception:  # noqa: BLE001 - PIL raises many types for broken files; all mean unreadable
            unreadable.append(filename)
    if unreadable:
        problems.append(f"{len(unreadable)} unreadable or truncated {what} PNG(s) in {folder}: {_shown(unreadable)}")
    counts = Counter(sizes.values())
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        odd = [f"{n} ({s[0]}x{s[1]})" for n, s in sizes.items() if s != common]
        problems.append(
            f"{what} images in {folder} have different sizes (most are {common[0]}x{common[1]}): {_shown(odd)}"
        )
    return counts


def _listing(folder: Path, what: str, problems: list[str]) -> list[FrameName]:
    if not folder.is_dir():
        problems.append(f"{what} folder {folder} does not exist")
        return []
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not files:
        problems.append(f"{what} folder {folder} is empty")
    bad = [f for f in files if FRAME_NAME.match(f) is None]
    if bad:
        problems.append(
            f"{len(bad)} file(s) in {what} folder {folder} do not follow the pattern "
            f"<video>_<frame number, 4+ digits>.png: {_shown(bad)}"
        )
    return sorted(parse_frame_name(f) for f in files if FRAME_NAME.match(f) is not None)


def validate_frame_set(
    frames_dir: str | Path,
    flow_dir: str | Path | None = None,
    *,
    step: int | None = None,
    expected_numbers: list[int] | None = None,
) -> dict:
    """Check that ``frames_dir`` (and ``flow_dir``) hold one consistent set of frames.

    Checks: names ``<video>_<number>.png`` of a single video; numbers strictly increasing with a
    constant step (``step``; inferred from the first two frames when None) or exactly
    ``expected_numbers`` (irregular samplings); every PNG complete; one size per folder; the flow
    folder holds exactly the same names. Returns a JSON-able report; raises InputError listing
    every problem found, each naming the offending files.
    """
    frames_dir = Path(frames_dir)
    problems: list[str] = []
    frames = _listing(frames_dir, "frame", problems)
    videos = sorted({f.video for f in frames})
    if len(videos) > 1:
        problems.append(f"{frames_dir} mixes frames of several videos ({_shown(videos)}): one folder per video")
    numbers = [f.number for f in frames]
    repeated = sorted(n for n, c in Counter(numbers).items() if c > 1)
    if repeated:
        same = [f.filename for f in frames if f.number in repeated]
        problems.append(f"several frames share a frame number in {frames_dir}: {_shown(same)}")
    found_step = None
    if expected_numbers is not None:
        missing = sorted(set(expected_numbers) - set(numbers))
        extra = sorted(set(numbers) - set(expected_numbers))
        if missing:
            problems.append(f"{len(missing)} expected frame number(s) missing in {frames_dir}: {_shown([str(n) for n in missing])}")
        if extra:
            problems.append(
                f"{len(extra)} unexpected frame(s) in {frames_dir}: "
                f"{_shown([f.filename for f in frames if f.number in extra])}"
            )
    elif len(numbers) > 1 and not repeated:
        found_step = step if step is not None else numbers[1] - numbers[0]
        irregular = [
            f"{b.filename} follows {a.filename}"
            for a, b in zip(frames, frames[1:])
            if b.number - a.number != found_step
        ]
        if irregular:
            problems.append(
                f"frame numbers in {frames_dir} do not advance by the expected step of {found_step} "
                f"(a missing or extra frame shifts the model's time axis): {_shown(irregular)}"
            )
    frame_sizes = _image_sizes(frames_dir, [f.filename for f in frames], problems, "frame")
    report: dict = {
        "ok": True,
        "frames_dir": str(frames_dir),
        "flow_dir": None if flow_dir is None else str(flow_dir),
        "video": videos[0] if len(videos) == 1 else None,
        "count": len(frames),
        "first": numbers[0] if numbers else None,
        "last": numbers[-1] if numbers else None,
        "step": found_step,
        "frame_size": list(frame_sizes.most_common(1)[0][0]) if frame_sizes else None,
    }
    if flow_dir is not None:
        flow_dir = Path(flow_dir)
        flows = _listing(flow_dir, "flow", problems)
        names, flow_names = {f.filename for f in frames}, {f.filename for f in flows}
        no_flow = sorted(names - flow_names)
        stray = sorted(flow_names - names)
        if no_flow and flow_dir.is_dir():
            problems.append(f"{len(no_flow)} frame(s) have no flow image of the same name in {flow_dir}: {_shown(no_flow)}")
        if stray:
            problems.append(f"{len(stray)} flow image(s) in {flow_dir} have no frame of the same name: {_shown(stray)}")
        flow_sizes = _image_sizes(flow_dir, sorted(flow_names & names), problems, "flow")
        report["flow_size"] = list(flow_sizes.most_common(1)[0][0]) if flow_sizes else None
    if problems:
        raise InputError(
            "the frame/flow set is inconsistent:\n  - " + "\n  - ".join(problems)
            + "\nfix or re-create these files (delete the folder to let the workflow extract it again)"
        )
    return report


def write_validation(path: str | Path, report: dict) -> None:
    """Write the report as JSON, atomically."""
    write_text(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
