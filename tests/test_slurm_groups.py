"""Job groups on the two-node SLURM cluster of CI (.ci/slurm/up.sh; marked slow): three videos
with every default output go to SLURM in three submissions each, each asking for what its steps
need together, and a group that no node can hold stops the run before its first job.

The nodes have one CPU each, and the CI profile caps every step at one thread; `--cores 1`
caps each group at one CPU too, so Snakemake runs a group's steps one after the other inside
its job: its memory is then its largest step's and its time the sum of its steps' times.
In CI (CI=true) a missing cluster is a failure; elsewhere the tests are skipped with the reason.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from clip_workflow import snakemake
from test_job_groups import workdir_with_videos
from test_slurm import CI_PROFILE, PROFILE, cluster, failed_snakemake, job_table, time_limit  # noqa: F401 (cluster: the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cluster")]

VIDEOS = 3
GROUPS = {
    "frames": ["extract_flow_frames", "extract_frames", "probe"],
    "saliency": ["flow", "inference", "validate"],
    "views": ["director", "director_path", "provenance", "render", "report_director", "report_overlay", "summary",
              "tiles", "viewer"],
}
PROFILES = ("--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE))


def group_submissions(log: str) -> list[dict]:
    """Every job the plugin submitted (its group, SLURM id and SLURM log), with the steps that ran
    in it (rule, video, resources), as the job's own Snakemake printed them in that log."""
    found = []
    for match in re.finditer(r"Job \S+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", log):
        group = re.search(r"/group_([a-z]+)_", match[2])  # the plugin shortens long folder names
        assert group, f"a submission that is not a group job: {match[0]}"
        steps, step = [], None
        for line in Path(match[2]).read_text(errors="replace").splitlines():
            text = line.strip()
            # the steps as they ran ("localrule X:" at the line's start; the group's listing
            # before them is indented, with resources still to be determined)
            if rule := re.fullmatch(r"(?:local)?rule (\w+):", line):
                step = {"rule": rule[1]}
                steps.append(step)
            elif step is not None and (video := re.fullmatch(r"wildcards: video=(\S+)", text)):
                step["video"] = video[1]
            elif step is not None and text.startswith("resources: "):
                step.update(item.split("=", 1) for item in text.removeprefix("resources: ").split(", "))
        found.append({"group": group[1], "slurm_id": match[1], "log": match[2], "steps": steps})
    return found


def test_three_videos_go_to_slurm_in_three_submissions_each(tmp_path):
    workdir = workdir_with_videos(tmp_path / "work", videos=VIDEOS)
    started = time.monotonic()
    out = snakemake(workdir, *PROFILES, "--cores", "1", timeout=900)
    print(f"SLURM run of {VIDEOS} videos in groups: {time.monotonic() - started:.0f} s")
    check_grouped_run(workdir, out.stdout + out.stderr)


def check_grouped_run(workdir: Path, log: str) -> None:
    """The submissions of the grouped run in ``workdir`` whose output is ``log``."""
    jobs = group_submissions(log)
    assert len(re.findall(r"has been submitted with SLURM jobid", log)) == len(jobs) == 3 * VIDEOS, log[-3000:]
    # each video's steps in its three groups, nothing else submitted, nothing on the login node but `all`
    by_video = {}
    for job in jobs:
        videos = {step["video"] for step in job["steps"]}
        assert len(videos) == 1, job
        assert sorted(step["rule"] for step in job["steps"]) == GROUPS[job["group"]], job
        by_video.setdefault(videos.pop(), []).append(job["group"])
    assert {video: sorted(groups) for video, groups in by_video.items()} == {f"v{i}": sorted(GROUPS) for i in range(VIDEOS)}
    assert re.findall(r"^localrule (\w+):$", log, flags=re.M) == ["all"], log[-3000:]
    # SLURM's record: each group asked for its steps' largest memory and their summed time, one
    # CPU, and one GPU for the group with flow and inference; every job ran and finished
    table = job_table(workdir)
    assert sorted(table) == sorted(job["slurm_id"] for job in jobs)
    for job in jobs:
        row, steps = table[job["slurm_id"]], job["steps"]
        assert row["state"] == "COMPLETED" and row["comment"].startswith(f"rule_{job['group']}_"), row
        assert row["memory"] == f"{max(int(s.get('mem_mb', 0)) for s in steps)}M", (row, steps)
        assert row["time_limit"] == time_limit(sum(int(s.get("runtime", 0)) for s in steps)), (row, steps)
        assert row["cpus"] == "1", row
        assert row["gpus"] == ("gres:gpu:1" if job["group"] == "saliency" else "N/A"), row
        assert f"{len(steps)} of {len(steps)} steps (100%) done" in Path(job["log"]).read_text(errors="replace")
    assert {row["node"] for row in table.values()} == {"sstsal-n1", "sstsal-n2"}, table
    for i in range(VIDEOS):
        for name in ("saliency.npz", "overlay.mp4", "director.mp4", "viewer.html", "provenance.json"):
            assert (workdir / "results" / f"v{i}" / name).stat().st_size > 0, name
    assert re.search(r"^\s*finished\s+v0\b", log, flags=re.M), log[-2000:]  # the closing table


def test_a_group_that_no_node_can_hold_stops_the_run_before_any_job(tmp_path):
    # without --cores 1 a group asks for what its steps side by side need: the overlay, the summary
    # and the camera path (one CPU each) want 3 CPUs, more than a node of the CI cluster has; its
    # memory is its widest layer's (director's cut 8000 + viewer 4000 MB), its time the layers' sum
    workdir = workdir_with_videos(tmp_path / "work", videos=1)
    err = failed_snakemake(workdir, *PROFILES)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err[-3000:]
    assert errors[0].startswith(
        "error: job group views (director, director_path, provenance, render, report_director, report_overlay, "
        "summary, tiles, viewer) asks for "
    ), errors
    assert "--cores N" in errors[0], errors
    assert not (workdir / "results").exists() and not (workdir / "logs" / "slurm").exists()
    assert job_table(workdir) == {}
