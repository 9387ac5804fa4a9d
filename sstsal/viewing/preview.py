"""The report's copies of a video's own videos (the overlay, the director's cut): the whole file
while the video is short, its first seconds when it is long, so the report of a library of long
videos holds a preview of each rather than every hour of them again.

A short video's copy is a hard link (no second copy on disk; a plain copy where the file system
has none); a long one's first ``seconds`` are copied without re-encoding (ffmpeg's stream copy),
its index at the front so it plays while it loads.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from sstsal.atomic import atomic_file
from sstsal.errors import SstsalError
from sstsal.media.video import ffmpeg_exe

logger = logging.getLogger(__name__)


def report_preview(source: str | os.PathLike, out: str | os.PathLike, *, seconds: float, duration_s: float) -> bool:
    """``out``: ``source`` (a video of ``duration_s``, the source's: the overlay and the cut are as
    long) itself when it lasts at most ``seconds``, else its first ``seconds``. Returns whether
    ``out`` is the whole video."""
    source, out = Path(source), Path(out)
    duration = duration_s
    with atomic_file(out) as tmp:
        if duration <= seconds:
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:  # another file system, or one without hard links
                shutil.copy2(source, tmp)
        else:
            cut = subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(source), "-t", f"{seconds:g}",
                 "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(tmp)],
                capture_output=True, text=True,
            )  # fmt: skip
            if cut.returncode != 0:
                raise SstsalError(f"cutting the report's preview of {source} failed: {cut.stderr.strip()[-500:]}")
    logger.info("%s: %s", out, "the whole video" if duration <= seconds else
                f"the first {seconds:g} s of {duration:.0f} s ({out.stat().st_size / 1e6:.1f} MB of "
                f"{source.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    return duration <= seconds
