"""A full disk is the machine's fault, not the video's: the run fails with one clear line, nothing
is remembered against the file, and once space is freed the same command finishes every map.

The disk is a real tmpfs of fixed size mounted on ``results/`` in a private mount namespace
(``unshare --user --map-root-user --mount``: no root needed where user namespaces are allowed),
filled to leave less than the frames need, so frame extraction meets ENOSPC from the kernel."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import snakemake_run
import yaml
from videoclips import make_clip

pytestmark = pytest.mark.slow  # two workflow runs

CONFIG = {"videos": "videos", "flow": {"method": "dis", "width": 256}, "model": {"device": "cpu"},
          "render": {"width": 256, "preset": "ultrafast"}, "summary": {"frames": 4},
          "director": {"width": 128, "height": 72, "preset": "ultrafast"}, "viewer": {"width": 128, "preset": "ultrafast"}}  # fmt: skip

# In the namespace: mount the tmpfs, fill it to leave $FREE bytes, run, keep what the first run
# left, free the space, run the same command again. Outputs go to $OUT (outside the tmpfs).
SCRIPT = r"""
set -u
mount -t tmpfs -o size=64m tmpfs "$WORK/results" || { echo "cannot mount a tmpfs" >&2; exit 90; }
avail=$(df --output=avail -B1 "$WORK/results" | tail -1)
head -c $((avail - FREE)) /dev/zero > "$WORK/results/.filler" || true
df -B1 "$WORK/results" > "$OUT/df_full"
"$@" > "$OUT/run1.out" 2> "$OUT/run1.err"; echo $? > "$OUT/run1.rc"
cp "$WORK/results/clip/failed.json" "$OUT/failed1.json" 2>/dev/null
rm "$WORK/results/.filler"
"$@" > "$OUT/run2.out" 2> "$OUT/run2.err"; echo $? > "$OUT/run2.rc"
ls "$WORK/results/clip" > "$OUT/results"; ls "$WORK/results/clip/saliency" > "$OUT/saliency"
[ -e "$WORK/results/clip/failed.json" ] && echo yes > "$OUT/failed2" || true
"""


def test_full_disk_fails_clearly_and_the_same_command_finishes_once_space_is_freed(tmp_path):
    assert shutil.which("unshare"), "unshare (util-linux) is needed to mount a tmpfs for this test"
    work, out = tmp_path / "w", tmp_path / "out"
    make_clip(work / "videos" / "clip.mp4", width=256, height=128, fps=24, seconds=1.5)  # 12 sampled frames
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    (work / "results").mkdir()
    out.mkdir()
    cmd = snakemake_run.command(work)
    env = dict(snakemake_run.environment(), WORK=str(work), OUT=str(out), FREE=str(48 * 1024))
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "bash", "-c", SCRIPT, "script", *cmd],
                          env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert done.returncode == 0 and (out / "run1.rc").is_file(), f"the tmpfs run did not happen: {done.stderr[-2000:]}"
    first = (out / "run1.err").read_text()
    assert (out / "run1.rc").read_text().strip() != "0", first[-3000:]
    # one clear line: the disk is full, the machine's fault, run the same command again
    errors = [line for line in first.splitlines() if line.startswith("error:") and "ENOSPC" in line]
    assert errors and "the disk is full (ENOSPC): a fault of the machine, not of the video" in errors[0], first[-3000:]
    assert "run the same command again" in errors[0]
    failure = json.loads((out / "failed1.json").read_text())
    assert failure["fault"] == "machine" and failure["rule"] in ("probe", "extract_frames", "extract_flow_frames")
    assert "the machine's fault, not the file's: the next run tries again" in first  # the closing table
    # space freed: the same command plans the video again and finishes it
    second = (out / "run2.err").read_text()
    assert (out / "run2.rc").read_text().strip() == "0", second[-3000:]
    assert "failed before" not in second and "every video is left out" not in second
    assert len((out / "saliency").read_text().split()) == 12
    assert {"overlay.mp4", "director.mp4", "viewer.html", "directions.csv"} <= set((out / "results").read_text().split())
    assert not (out / "failed2").exists(), "a finished video keeps no failure record"
