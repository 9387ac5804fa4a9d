"""The workflow on a real SLURM cluster through profiles/slurm (CI starts one: .ci/slurm/up.sh).

One run of the small clip in chunks of 14 frames (2 flow and 2 inference GPU jobs), submitted
with ``--workflow-profile profiles/slurm --profile .ci/slurm/profile``. While it runs, a watcher
``scancel``s one running inference chunk job; the profile's ``retries`` resubmit it. Then:
the outputs equal the local unchunked run's bit for bit, every non-local job went through
sbatch with the profile's resources (SLURM log files, job ids and states from squeue), the
cancelled job was retried, and a second run has nothing to do.

Needs ``sinfo``/``squeue``/``scancel`` talking to a cluster with a node able to hold the jobs.
In CI (CI=true) a missing cluster is a failure; elsewhere the tests are skipped with the reason.
Takes 2-3 minutes on the 2-core CI machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from clip_workflow import REPO, VIDEO, assert_same_results, new_workdir, reference_run, snakemake

PROFILE = REPO / "profiles" / "slurm"
CI_PROFILE = REPO / ".ci" / "slurm" / "profile"
CHUNK_FRAMES = 14  # 28 frames: chunks [0, 14) and [14, 28)
CHUNKS = ["000000-000014", "000014-000028"]
# Rules that run as SLURM jobs in this run, and how often (the cancelled chunk adds one more);
# probe, validate, summary, chunk_plan, gather_flow and all are local rules.
CLUSTER_JOBS = {
    "extract_frames": 1,
    "extract_flow_frames": 1,
    "flow_chunk": 2,
    "inference_chunk": 2,
    "gather_saliency": 1,
    "render": 1,
}
LOCAL_RULES = ["probe", "validate", "summary", "chunk_plan", "gather_flow"]


QUEUE_FIELDS = {  # squeue -O field: our name (no value of these fields contains a space)
    "JobID": "id",
    "State": "state",
    "Comment": "comment",
    "tres-per-job": "gpus",
    "MinMemory": "memory",
    "TimeLimit": "time_limit",
    "NumCPUs": "cpus",
    "WorkDir": "workdir",
}


def jobs_in_queue(*args: str) -> dict[str, dict[str, str]]:
    """{job id: {field: value}} from squeue (the CI cluster keeps finished jobs 10 minutes)."""
    fmt = ",".join(f"{field}:400" for field in QUEUE_FIELDS)
    out = subprocess.run(["squeue", "-h", "-O", fmt, *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"squeue {' '.join(args)} failed: {out.stderr.strip()}")
    rows = [dict(zip(QUEUE_FIELDS.values(), line.split())) for line in out.stdout.splitlines() if line.strip()]
    return {row["id"]: row for row in rows}


def cluster_problem() -> str | None:
    """Why no job could run on a SLURM cluster from here, or None when one is usable."""
    for tool in ("sinfo", "squeue", "sbatch", "scancel"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T %m"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s (is slurmctld running?)"
    if out.returncode != 0:
        return f"sinfo failed: {out.stderr.strip()}"
    nodes = [line.split() for line in out.stdout.splitlines() if line.strip()]
    usable = [int(mem) for state, mem in nodes if state.rstrip("*~#") in ("idle", "mixed", "allocated")]
    if not usable:
        return f"no node is up (sinfo: {out.stdout.strip() or 'no nodes'})"
    # the largest memory request of this run's jobs in the profile must fit on a node
    resources = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-resources"]
    need = max(resources.get(rule, {}).get("mem_mb", 0) for rule in CLUSTER_JOBS)
    if max(usable) < need:
        return f"the largest node has {max(usable)} MB but profiles/slurm asks up to {need} MB per job"
    return None


@pytest.fixture(scope="module")
def cluster():
    problem = cluster_problem()
    if problem is not None:
        message = (
            f"no usable SLURM cluster: {problem}. Start the one-node test cluster with `.ci/slurm/up.sh` "
            "(as root; .ci/slurm/down.sh stops it)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + " -- skipped because CI is not set; with CI=true this fails")


class CancelOneJob(threading.Thread):
    """scancel the first running job of ``rule`` submitted from ``workdir`` a moment after its
    step began (its own log file exists: the script is loading the model or computing)."""

    def __init__(self, workdir: Path, rule: str) -> None:
        super().__init__(daemon=True)
        self.workdir, self.rule = workdir, rule
        self.cancelled: tuple[str, str] | None = None  # (SLURM job id, chunk label)
        self.missed: set[str] = set()  # jobs that finished before scancel reached them
        self.error: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.is_set() and self.cancelled is None:
                for job in jobs_in_queue("-t", "RUNNING").values():
                    label = re.search(r"\d{6}-\d{6}", job["comment"])
                    if Path(job["workdir"]) != self.workdir or not job["comment"].startswith(f"rule_{self.rule}_"):
                        continue
                    if job["id"] in self.missed or not label:
                        continue
                    if (self.workdir / "logs" / self.rule / VIDEO / f"{label[0]}.log").is_file():
                        time.sleep(2)
                        done = subprocess.run(["scancel", job["id"]], capture_output=True, text=True, timeout=30)
                        if done.returncode == 0 and not done.stderr.strip():
                            self.cancelled = (job["id"], label[0])
                            return
                        self.missed.add(job["id"])
                time.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.error = repr(exc)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    reference_run()  # the local run first: it must not compete with the SLURM jobs for the CPUs
    workdir = new_workdir(tmp_path_factory.mktemp("slurm"), chunk_frames=CHUNK_FRAMES)
    watcher = CancelOneJob(workdir, "inference_chunk")
    watcher.start()
    started = time.monotonic()
    try:
        out = snakemake(workdir, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), timeout=900)
    finally:
        watcher.done.set()
        watcher.join(timeout=30)
    print(f"SLURM run: {time.monotonic() - started:.0f} s")
    return workdir, out.stdout + out.stderr, watcher


def submissions(log: str) -> list[tuple[str, str, Path]]:
    """(rule, SLURM job id, SLURM log file) of every job the plugin submitted."""
    found = []
    for job_id, path in re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", log):
        rule = re.search(r"/rule_(\w+?)/", path)
        assert rule, path
        found.append((rule[1], job_id, Path(path)))
    return found


def job_table(ids: list[str]) -> dict[str, dict[str, str]]:
    return jobs_in_queue("--states=all", "-j", ",".join(ids))


def test_slurm_run_gives_the_local_unchunked_results(slurm_run):
    workdir, _, _ = slurm_run
    assert_same_results(workdir, reference_run())
    # chunk folders are temporary; no half-written leftover of the cancelled job remains
    assert sorted(p.name for p in (workdir / "results" / VIDEO / "chunks").rglob("*")) == ["plan.json"]


def test_jobs_went_through_slurm_with_the_profile_resources(slurm_run):
    workdir, log, watcher = slurm_run
    jobs = submissions(log)
    counts = {rule: sum(1 for r, _, _ in jobs if r == rule) for rule in CLUSTER_JOBS}
    expected = dict(CLUSTER_JOBS, inference_chunk=CLUSTER_JOBS["inference_chunk"] + (watcher.cancelled is not None))
    assert counts == expected, log[-3000:]
    assert {r for r, _, _ in jobs} == set(CLUSTER_JOBS)
    for rule in LOCAL_RULES:
        assert re.search(rf"^local(rule|checkpoint) {rule}:$", log, flags=re.M), f"{rule} did not run locally"
    # the plugin's SLURM log of each job, under the profile's slurm-logdir, written by the job
    for rule, job_id, path in jobs:
        assert path.is_relative_to(workdir / "logs" / "slurm" / f"rule_{rule}"), path
        assert path.name == f"{job_id}.log" and path.is_file(), path
        if watcher.cancelled is None or job_id != watcher.cancelled[0]:
            text = path.read_text(errors="replace")
            assert re.search(rf"^(local)?rule {rule}:$", text, flags=re.M), text[-2000:]
            assert "1 of 1 steps (100%) done" in text, text[-2000:]
    # SLURM's own record: each id is a real job that ran the rule with the profile's requests
    table = job_table([job_id for _, job_id, _ in jobs])
    assert sorted(table) == sorted(job_id for _, job_id, _ in jobs)
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    for rule, job_id, _ in jobs:
        row = table[job_id]
        assert row["comment"].startswith(f"rule_{rule}"), row
        cancelled = watcher.cancelled is not None and job_id == watcher.cancelled[0]
        assert row["state"] == ("CANCELLED" if cancelled else "COMPLETED"), row
        requested = profile["set-resources"][rule]
        assert row["workdir"] == str(workdir), row
        assert row["memory"] == f"{requested['mem_mb']}M", row
        hours, minutes = divmod(requested["runtime"], 60)
        assert row["time_limit"] == (f"{hours}:{minutes:02d}:00" if hours else f"{minutes}:00"), row
        assert row["cpus"] == "1", row  # threads capped by the CI override's max-threads
        # sbatch --gpus=1 for the GPU rules, scheduled on the CI cluster's stand-in GPUs
        assert row["gpus"] == ("gres:gpu:1" if requested.get("gpu") else "N/A"), row


def test_a_job_cancelled_by_slurm_is_retried(slurm_run):
    workdir, log, watcher = slurm_run
    assert watcher.error is None, watcher.error
    assert watcher.cancelled is not None, "no inference chunk job was caught running to scancel it"
    job_id, label = watcher.cancelled
    assert re.search(rf"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'", log), log[-3000:]
    attempts = [j for r, j, p in submissions(log) if r == "inference_chunk" and p.parent.name.endswith(label)]
    assert len(attempts) == 2 and attempts[0] == job_id, attempts
    assert job_table([attempts[1]])[attempts[1]]["state"] == "COMPLETED"


def test_a_second_run_has_nothing_to_do(slurm_run):
    workdir, _, _ = slurm_run
    out = snakemake(workdir, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr
