"""Submissions per video under the SLURM profile (config job_groups), counted from a dry run:
three per video with groups (a video's light steps travel with its heavy ones), seven SLURM jobs
and five login-node steps without. The runs on a real cluster: tests/test_slurm_groups.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake_run import REPO, snakemake
from videoclips import make_clip

pytestmark = pytest.mark.slow

VIDEOS = 3
PROFILE_ARGS = ["--workflow-profile", str(REPO / "profiles" / "slurm"), "--profile", str(REPO / ".ci" / "slurm" / "profile")]


def workdir_with_videos(root: Path, videos: int = VIDEOS) -> Path:
    """``videos`` one-second 128x64 clips, DIS flow, every default output."""
    for i in range(videos):
        make_clip(root / "videos" / f"v{i}.mp4", width=128, height=64, fps=8, seconds=1, seed=i)
    (root / "config").mkdir()
    settings = {"videos": "videos", "flow": {"method": "dis"}, "model": {"device": "cpu"}}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    return root


def local_rules() -> set[str]:
    """The rules that say `localrule: True` (a dry run does not say which jobs are local)."""
    found = set()
    for path in [REPO / "workflow" / "Snakefile", *(REPO / "workflow" / "rules").rglob("*.smk")]:
        for block in re.split(r"^(?=\s*rule \w+:)", path.read_text(), flags=re.M):
            if (name := re.match(r"\s*rule (\w+):", block)) and re.search(r"^\s+localrule: True$", block, re.M):
                found.add(name[1])
    return found


def planned(text: str) -> tuple[list[list[str]], list[str]]:
    """A dry run's jobs: the groups (their rules) and the jobs on their own."""
    groups, alone = [], []
    for line in text.splitlines():
        if re.search(r"\] Group job \w+ \(jobs in lexicogr\. order\):$", line):
            groups.append([])
        elif match := re.fullmatch(r"    rule (\w+):", line):
            groups[-1].append(match[1])
        elif match := re.fullmatch(r"rule (\w+):", line):
            alone.append(match[1])
    return groups, alone


@pytest.mark.parametrize("grouped", [True, False], ids=["groups", "no-groups"])
def test_submissions_per_video(tmp_path, grouped):
    workdir = workdir_with_videos(tmp_path)
    out = snakemake(workdir, "-n", *PROFILE_ARGS, "--config", f"job_groups={grouped}", cores=None)
    groups, alone = planned(out.stdout + out.stderr)
    local = [rule for rule in alone if rule in local_rules()]
    submitted = len(groups) + len(alone) - len(local)
    if grouped:
        assert sorted(map(sorted, groups)) == sorted(
            [["extract_flow_frames", "extract_frames", "probe"]] * VIDEOS
            + [["flow", "inference", "validate"]] * VIDEOS
            + [["director", "director_path", "provenance", "render", "report_director", "report_overlay", "summary",
                "tiles", "viewer"]] * VIDEOS
        ), groups
        assert alone == ["all"] and submitted == 3 * VIDEOS  # nothing on the login node but `all`
    else:
        assert groups == []
        assert sorted(set(alone) - set(local)) == sorted(
            ["extract_frames", "extract_flow_frames", "flow", "inference", "render", "director", "viewer"]
        )
        assert sorted(local) == sorted(["probe", "validate", "director_path", "summary", "provenance", "tiles",
                                        "report_overlay", "report_director"] * VIDEOS + ["all"])
        assert submitted == 7 * VIDEOS
