"""A folder of videos processed run after run: which videos to leave out, which failed before,
and what each run finished.

- The folder is named by one normalised path (:func:`videos_folder`), so the same folder spelled
  differently (``../videos``, ``./videos/``, its absolute path, a symlink to it) names the same inputs.
- ``exclude`` patterns of the config (shell globs on the file name, :func:`excluded_by`) and the
  sample sheet's ``exclude`` column leave files out before anything is probed.
- A stage that reads the source video and fails with a one-line error writes a failure record
  (``results/<video>/failed.json``, :func:`write_failure`) with the file's size and modification
  time. A later run skips that video with one line (:func:`select_videos`) until the file changes
  or the record is deleted, instead of probing the broken file again and exiting 1 every time.
  Only the file's own faults are remembered so (it does not decode, a layout it cannot have); a
  fault of the machine (a full disk, out of memory, a killed tool, a permission, a missing tool:
  :func:`machine_fault`) is recorded as such, and the next run tries the video again.
- :func:`run_table` is the short table printed at the end of every run: the videos finished
  (with their warnings), failed (with the reason and the log's path) and skipped.
"""

from __future__ import annotations

import datetime
import errno
import fnmatch
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sstsal.atomic import write_text
from sstsal.errors import InputError

RESULTS = "results"  # the workflow's results folder, relative to its working directory
FAILURE_NAME = "failed.json"
# Stages that read the source file: their one-line errors are about the file itself, so the
# video stays failed until the file changes (an error in a later stage is retried every run).
SOURCE_STAGES = frozenset({"probe", "extract_frames", "extract_flow_frames"})
# Whose fault a failure is: the file's (remembered while the file is unchanged) or the machine's
# (never remembered: the next run tries again).
FILE_FAULT, MACHINE_FAULT = "file", "machine"
# OS errors that say something about the machine, not the video file.
MACHINE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENOMEM: "out of memory",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "a read-only file system",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files",
    errno.EIO: "an input/output error of the disk",
    errno.ENOENT: "a file or tool is missing",
}


def machine_fault(exc: BaseException) -> str | None:
    """What of the machine made ``exc`` (or an exception it was raised from) happen, or None when
    nothing says it was the machine: out of memory, an OS error of :data:`MACHINE_ERRNOS`, a tool
    killed by a signal."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return "out of memory"
        if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:
            return f"{MACHINE_ERRNOS[exc.errno]} ({errno.errorcode[exc.errno]})"
        if isinstance(exc, subprocess.CalledProcessError) and (exc.returncode < 0 or exc.returncode in (137, 143)):
            return "a tool was killed (out of memory, or stopped)"
        exc = exc.__cause__ or exc.__context__
    return None


def fault_of(exc: BaseException) -> str:
    """:data:`MACHINE_FAULT` when :func:`machine_fault` finds the machine behind ``exc``, else :data:`FILE_FAULT`."""
    return MACHINE_FAULT if machine_fault(exc) else FILE_FAULT


def videos_folder(path: str | os.PathLike, workdir: str | os.PathLike | None = None) -> Path:
    """The one spelling of a videos folder: resolved (``~`` expanded, symlinks followed, ``.``,
    ``..`` and doubled or trailing slashes removed), relative to the (resolved) working directory
    when inside it, absolute otherwise.

    Every spelling of one folder gives the same path, so the inputs it names stay the same: a
    folder given through a symlink (a library on a linked drive) plans exactly what the folder
    itself plans. Inside the working directory the path stays relative, so a project moved or
    copied as a whole (results and videos) reruns nothing.
    """
    absolute = Path(os.path.realpath(os.path.expanduser(os.fspath(path))))
    base = Path(os.path.realpath(os.fspath(workdir) if workdir is not None else os.getcwd()))
    try:
        return absolute.relative_to(base)
    except ValueError:
        return absolute


def excluded_by(name: str, patterns: Iterable[str]) -> str | None:
    """The first ``exclude`` pattern (a shell glob, case-insensitive) matching file ``name``, or None."""
    for pattern in patterns:
        if fnmatch.fnmatch(name.lower(), pattern.lower()):
            return pattern
    return None


@dataclass(frozen=True)
class Failure:
    """Why a video's stage failed, and which version of the source file it failed on."""

    video: str
    rule: str
    reason: str
    log: str
    source: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    when: str = ""
    fault: str = FILE_FAULT  # FILE_FAULT or MACHINE_FAULT (records written before it: the file's)

    @property
    def sticky(self) -> bool:
        """Whether the video stays failed until its file changes (an error about the file itself)."""
        return self.rule in SOURCE_STAGES and self.source is not None and self.fault != MACHINE_FAULT

    def kind(self) -> str:
        """For the closing table: whose fault it was, and whether the next run tries again."""
        if self.fault == MACHINE_FAULT:
            return "the machine's fault, not the file's: the next run tries again"
        if self.sticky:
            return "the file's fault: left out until the file changes"
        return "the next run tries again"

    def same_file(self, source: str | os.PathLike) -> bool:
        """Whether ``source`` is still the file this failure was recorded on (size and mtime)."""
        try:
            stat = os.stat(source)
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)

    def line(self) -> str:
        """``<rule>: <first line of the reason>``."""
        first = self.reason.strip().splitlines()[0] if self.reason.strip() else "failed"
        return f"{self.rule}: {first}"


def failure_path(results: str | os.PathLike, video: str) -> Path:
    return Path(results) / video / FAILURE_NAME


def write_failure(
    path: str | os.PathLike, *, video: str, rule: str, reason: str, log: str, source: str | None = None,
    fault: str = FILE_FAULT,
) -> Failure:
    """Record that ``rule`` failed for ``video`` (with the source file's size and mtime) and whose
    ``fault`` it was (:func:`fault_of`)."""
    size = mtime_ns = None
    if source is not None:
        try:
            stat = os.stat(source)
            size, mtime_ns = stat.st_size, stat.st_mtime_ns
        except OSError:
            pass
    failure = Failure(video, rule, reason.strip(), str(log), None if source is None else str(source), size, mtime_ns,
                      datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds"), fault)  # fmt: skip
    write_text(path, json.dumps(asdict(failure), indent=2, ensure_ascii=False) + "\n")
    return failure


def read_failure(path: str | os.PathLike) -> Failure | None:
    """The failure recorded at ``path``, or None (none, or unreadable: then it is ignored)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Failure(**{k: data[k] for k in Failure.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError):
        return None


@dataclass
class Selection:
    """The videos of a folder this run processes, and those it leaves out with the reason."""

    videos: dict[str, str]
    skipped: dict[str, str]


def select_videos(
    videos: Mapping[str, str], *, exclude: Iterable[str], results: str | os.PathLike, sheet_excluded: Iterable[str] = ()
) -> Selection:
    """Leave out the videos the sample sheet's ``exclude`` column names (``sheet_excluded``), those
    an ``exclude`` pattern matches and those that failed before on an unchanged file (each with a
    one-line reason); the others are this run's videos."""
    patterns, by_sheet = list(exclude), set(sheet_excluded)
    keep: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for video, source in videos.items():
        if video in by_sheet:
            skipped[video] = "excluded by the sample sheet (column `exclude`)"
            continue
        pattern = excluded_by(Path(source).name, patterns)
        if pattern is not None:
            skipped[video] = f"excluded by the pattern {pattern!r}"
            continue
        failure = read_failure(failure_path(results, video))
        if failure is not None and failure.sticky and failure.same_file(source):
            skipped[video] = (
                f"failed before ({failure.line()}; log: {failure.log}); the file is unchanged since: replace it, "
                f"or delete {failure_path(results, video)} to try again"
            )
            continue
        keep[video] = source
    return Selection(keep, skipped)


def check_videos_folder(path: str | os.PathLike) -> Path:
    """:func:`videos_folder`, refusing a path that names a file rather than a folder."""
    folder = videos_folder(path)
    if folder.is_file():
        raise InputError(
            f"videos={path} names a file, not a folder: give the folder that holds your videos "
            f"(videos={folder.parent}), and leave files out with `exclude` patterns"
        )
    return folder


@dataclass
class VideoOutcome:
    """One row of the closing table."""

    video: str
    status: str  # finished, failed, skipped, unfinished
    detail: str = ""
    warnings: tuple[str, ...] = ()


def video_warnings(results: str | os.PathLike, video: str) -> list[str]:
    """The warnings in the video's stage records (``results/<video>/provenance/*.json``)."""
    warnings = []
    for path in sorted((Path(results) / video / "provenance").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        warnings += [f"{record.get('rule', path.stem)}: {w}" for w in record.get("warnings", [])]
    return warnings


def newest_log(logs: str | os.PathLike, video: str) -> str | None:
    """The most recently written ``logs/<rule>/<video>.log`` (where an unrecorded failure shows)."""
    found = [p for p in Path(logs).glob(f"*/{video}.log") if p.is_file()]
    return str(max(found, key=lambda p: p.stat().st_mtime)) if found else None


def outcomes(
    videos: Iterable[str],
    skipped: Mapping[str, str],
    *,
    outputs: Callable[[str], list[str]],
    results: str | os.PathLike = "results",
    logs: str | os.PathLike = "logs",
) -> list[VideoOutcome]:
    """The outcome of every video: finished (every final output there), failed (with its record's
    reason and log), unfinished (no record: its newest log), or skipped (with ``skipped``'s reason).

    A finished video's old failure record is removed: it no longer describes the video.
    """
    rows = []
    for video in videos:
        record = failure_path(results, video)
        if all(Path(p).exists() for p in outputs(video)):
            record.unlink(missing_ok=True)
            rows.append(VideoOutcome(video, "finished", f"{Path(results) / video}/",
                                     tuple(video_warnings(results, video))))  # fmt: skip
            continue
        failure = read_failure(record)
        if failure is not None:
            rows.append(VideoOutcome(video, "failed", f"{failure.line()} ({failure.kind()}; log: {failure.log})"))
        else:
            log = newest_log(logs, video)
            rows.append(VideoOutcome(video, "unfinished", f"no error recorded; see {log}" if log else "not run"))
    rows += [VideoOutcome(video, "skipped", reason) for video, reason in skipped.items()]
    return rows


def left_out_rows(left_out: Mapping[str, str]) -> list[VideoOutcome]:
    """Closing-table rows of the folder's files that are not videos of the run ({file name: why})."""
    return [VideoOutcome(name, "left out", why) for name, why in left_out.items()]


def left_out_lines(left_out: Mapping[str, str]) -> list[str]:
    """One line per file of the folder left out of the run, said once at its start."""
    return [f"left out {name}: {why}" for name, why in left_out.items()]


def run_table(rows: list[VideoOutcome]) -> str:
    """The closing table: a count line, then one line per video (and one per warning), then the
    files of the folder left out (not videos, unknown extensions)."""
    counts = {s: sum(r.status == s for r in rows) for s in ("finished", "failed", "unfinished", "skipped", "left out")}
    head = "videos: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "finished")
    width = max((len(r.video) for r in rows), default=5)
    lines = [head]
    for status in ("finished", "failed", "unfinished", "skipped", "left out"):
        for row in (r for r in rows if r.status == status):
            lines.append(f"  {status:<10} {row.video:<{width}}  {row.detail}")
            lines += [f"  {'warning':<10} {row.video:<{width}}  {w}" for w in row.warnings]
    return "\n".join(lines)


# Snakemake's report page without results (its scripts and styles), measured with Snakemake 9.27.
REPORT_PAGE_MB = 3.0
# One HTML report holds every result in base64 inside one page, which a browser parses whole before
# it shows anything; up to this size that takes seconds. Larger: the zip, whose page opens at once
# and reads each result from its own file when it is shown.
REPORT_HTML_MAX_MB = 50.0
# The same page deflated inside the zip (measured with Snakemake 9.27: 0.4 to 0.75 MB, from one
# small video to testRoom1 at the defaults, whose 5.1 MB of results made a 5.0 MB zip).
REPORT_ZIP_PAGE_MB = 0.6


def report_sizes_mb(result_bytes: int) -> tuple[float, float]:
    """About how large ``--report report.html`` and ``--report report.zip`` are for results of
    ``result_bytes`` in all: the page, and the results in base64 (4 bytes per 3) or as files (the
    videos and images do not deflate)."""
    return REPORT_PAGE_MB + result_bytes * 4 / 3 / 1e6, REPORT_ZIP_PAGE_MB + result_bytes / 1e6


def report_suggestion(result_bytes: int) -> str:
    """The closing line's report command: one HTML page while it stays small, else the zip."""
    html_mb, zip_mb = report_sizes_mb(result_bytes)
    if html_mb <= REPORT_HTML_MAX_MB:
        return f"a report of the finished videos: snakemake --report report.html (about {html_mb:.1f} MB)"
    return (f"a report of the finished videos: snakemake --report report.zip (about {zip_mb:.1f} MB; unzip it and "
            f"open report/report.html; as one HTML page it would be about {html_mb:.0f} MB, more than a browser "
            "opens comfortably)")  # fmt: skip


def report_text(rows: list[VideoOutcome]) -> str:
    """reStructuredText for the report's front page: the videos it shows, and those it does not."""
    shown = [r for r in rows if r.status == "finished"]
    left = [r for r in rows if r.status != "finished"]
    lines = ["SST-Sal saliency of a folder of 360-degree videos.", "",
             f"This report shows the {len(shown)} finished video(s)"
             + (": " + ", ".join(f"``{r.video}``" for r in shown) if shown else "") + ".", ""]  # fmt: skip
    if left:
        lines += [f"Not in this report ({len(left)}):", ""]
        lines += [f"- ``{r.video}``: {r.status}: {_rst_text(r.detail)}" for r in left]
        lines.append("")
    warned = [(r.video, w) for r in shown for w in r.warnings]
    if warned:
        lines += ["Warnings:", ""] + [f"- ``{video}``: {_rst_text(w)}" for video, w in warned] + [""]
    return "\n".join(lines)


def _rst_text(text: str) -> str:
    """One line of plain text that reStructuredText shows as written."""
    line = " ".join(text.split())
    for char in ("\\", "*", "`", "|", "_"):
        line = line.replace(char, "\\" + char)
    return line
