"""The workflow on a real SLURM cluster through profiles/slurm (CI starts one: .ci/slurm/up.sh).

One run of the small clip in chunks of 14 frames (2 flow and 2 inference GPU jobs), submitted
with ``--workflow-profile profiles/slurm --profile .ci/slurm/profile``. While it runs, a watcher
``scancel``s one running inference chunk job; the profile's ``retries`` resubmit it. Then:
the outputs equal the local unchunked run's bit for bit, every non-local job went through
sbatch with the resources its rule declared (SLURM log files, job ids and states from squeue),
the cancelled job was retried asking for twice the memory and time, and a second run has
nothing to do.

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
    "director": 1,
    "viewer": 1,
}
LOCAL_RULES = ["probe", "validate", "summary", "chunk_plan", "gather_flow", "director_path", "provenance"]
# The largest memory request of this run (MB): gather_saliency's 16000, and the retried inference
# chunk's second attempt, 2 x 8000 (workflow/rules/chunks.smk). A node must hold it.
LARGEST_REQUEST_MB = 16000


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


# Integration tests (workflow runs on a SLURM cluster): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


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
    if max(usable) < LARGEST_REQUEST_MB:
        return f"the largest node has {max(usable)} MB but the workflow asks up to {LARGEST_REQUEST_MB} MB per job"
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


def requested(log: str) -> dict[str, dict[str, str]]:
    """{SLURM job id: the threads and resources the rule declared for that submission}, from the
    run's log: Snakemake prints each job (its jobid, threads, resources) before the plugin
    submits it, and again for a retry, whose resources are computed with the next attempt."""
    blocks: dict[str, dict[str, str]] = {}
    found, block = {}, None
    for line in log.splitlines():
        text = line.strip()
        if re.fullmatch(r"(local)?(rule|checkpoint) \w+:", text):
            block = {}
        elif block is not None and (match := re.fullmatch(r"(jobid|threads): (\d+)", text)):
            block[match[1]] = match[2]
            if match[1] == "jobid":
                blocks[match[2]] = block
        elif block is not None and text.startswith("resources: "):
            block.update(item.split("=", 1) for item in text.removeprefix("resources: ").split(", "))
        elif not text:
            block = None
        if match := re.search(r"Job (\d+) has been submitted with SLURM jobid (\d+)", text):
            found[match[2]] = dict(blocks[match[1]])
    return found


def time_limit(minutes: int) -> str:
    """squeue's TimeLimit of a request of ``minutes``."""
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:00" if hours else f"{minutes}:00"


def job_table(ids: list[str]) -> dict[str, dict[str, str]]:
    return jobs_in_queue("--states=all", "-j", ",".join(ids))


def test_slurm_run_gives_the_local_unchunked_results(slurm_run):
    workdir, _, _ = slurm_run
    assert_same_results(workdir, reference_run())
    # chunk folders are temporary; no half-written leftover of the cancelled job remains
    assert sorted(p.name for p in (workdir / "results" / VIDEO / "chunks").rglob("*")) == ["plan.json"]


def test_jobs_went_through_slurm_with_the_rules_resources(slurm_run):
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
    # SLURM's own record: each id is a real job that ran the rule with the rule's requests
    table = job_table([job_id for _, job_id, _ in jobs])
    assert sorted(table) == sorted(job_id for _, job_id, _ in jobs)
    asked = requested(log)
    assert sorted(asked) == sorted(job_id for _, job_id, _ in jobs), log[-3000:]
    for rule, job_id, _ in jobs:
        row = table[job_id]
        assert row["comment"].startswith(f"rule_{rule}"), row
        cancelled = watcher.cancelled is not None and job_id == watcher.cancelled[0]
        assert row["state"] == ("CANCELLED" if cancelled else "COMPLETED"), row
        request = asked[job_id]
        assert row["workdir"] == str(workdir), row
        assert row["memory"] == f"{request['mem_mb']}M", (row, request)
        assert row["time_limit"] == time_limit(int(request["runtime"])), (row, request)
        # threads capped by the CI override's max-threads
        assert request.get("threads", "1") == "1" and row["cpus"] == "1", (row, request)
        # sbatch --gpus=1 for the GPU rules (gpu=1 on a cluster, whatever the login node has),
        # scheduled on the CI cluster's stand-in GPUs
        gpu = int(request.get("gpu", 0))
        assert gpu == (rule in ("flow_chunk", "inference_chunk")), (rule, request)
        assert row["gpus"] == ("gres:gpu:1" if gpu else "N/A"), row


def test_a_job_cancelled_by_slurm_is_retried(slurm_run):
    workdir, log, watcher = slurm_run
    assert watcher.error is None, watcher.error
    assert watcher.cancelled is not None, "no inference chunk job was caught running to scancel it"
    job_id, label = watcher.cancelled
    assert re.search(rf"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'", log), log[-3000:]
    attempts = [j for r, j, p in submissions(log) if r == "inference_chunk" and p.parent.name.endswith(label)]
    assert len(attempts) == 2 and attempts[0] == job_id, attempts
    assert job_table([attempts[1]])[attempts[1]]["state"] == "COMPLETED"
    # the second attempt asked SLURM for twice the memory and time (the rule scales by attempt)
    first, second = (job_table(attempts)[a] for a in attempts)
    asked = requested(log)
    assert int(asked[attempts[1]]["mem_mb"]) == 2 * int(asked[attempts[0]]["mem_mb"]), asked
    assert int(asked[attempts[1]]["runtime"]) == 2 * int(asked[attempts[0]]["runtime"]), asked
    assert (first["memory"], second["memory"]) == (
        f"{asked[attempts[0]]['mem_mb']}M",
        f"{asked[attempts[1]]['mem_mb']}M",
    ), (first, second)
    assert second["time_limit"] == time_limit(int(asked[attempts[1]]["runtime"])), second


def test_a_second_run_has_nothing_to_do(slurm_run):
    workdir, _, _ = slurm_run
    out = snakemake(workdir, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr
