"""A library in batches (docs/cluster.md, "Ten thousand videos"): `--batch all=i/n` plans and runs
the i-th n-th of the videos only, and the batches together make the whole run (marked slow)."""

from __future__ import annotations

import re

import pytest
import yaml
from snakemake_run import snakemake
from videoclips import make_clip

pytestmark = pytest.mark.slow

VIDEOS = ["v0", "v1", "v2"]


def planned_videos(text: str) -> set[str]:
    return set(re.findall(r"^\s*wildcards: video=(\S+)$", text, flags=re.M))


def test_a_library_in_three_batches(tmp_path):
    for i, video in enumerate(VIDEOS):
        make_clip(tmp_path / "videos" / f"{video}.mp4", width=128, height=64, fps=8, seconds=1, seed=i)
    (tmp_path / "config").mkdir()
    settings = {"videos": "videos", "flow": {"method": "none"}, "model": {"device": "cpu"},
                "director": {"enabled": False}, "viewer": {"enabled": False}}  # fmt: skip
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(settings))

    # each batch plans the jobs of its own third of the videos only
    plans = [planned_videos(snakemake(tmp_path, "-n", "--batch", f"all={i}/3").stdout) for i in (1, 2)]
    assert plans == [{"v0"}, {"v1"}], plans
    # the last batch runs `all` itself: Snakemake refuses it before the others are done
    last = snakemake(tmp_path, "-n", "--batch", "all=3/3", check=False)
    assert last.returncode != 0 and "not all previous batches have been completed" in last.stdout + last.stderr
    # the first batch runs: its video is finished, the others untouched
    snakemake(tmp_path, "--batch", "all=1/3")
    assert (tmp_path / "results" / "v0" / "provenance.json").is_file()
    assert (tmp_path / "results" / "v0" / "overlay.mp4").stat().st_size > 0
    assert not (tmp_path / "results" / "v1").exists() and not (tmp_path / "results" / "v2").exists()
    # the next batches do the rest, nothing of the finished one again
    assert planned_videos(snakemake(tmp_path, "-n", "--batch", "all=2/3").stdout) == {"v1"}
    rest = snakemake(tmp_path, "-n")
    assert planned_videos(rest.stdout) == {"v1", "v2"}, rest.stdout[-2000:]
