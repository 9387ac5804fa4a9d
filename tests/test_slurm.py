"""The workflow on a real two-node SLURM cluster through profiles/slurm (CI starts one: .ci/slurm/up.sh).

Run A: the small clip in chunks of 14 frames (2 flow and 2 inference GPU jobs), submitted with
``--workflow-profile profiles/slurm --profile .ci/slurm/profile`` (GPUs asked for as
``--gpus``). While it runs, a watcher takes the node of one running inference chunk job down
(``scontrol update nodename=... state=down``); the profile's ``retries`` resubmit the job, which
finishes on the other node. Then: the outputs equal the local unchunked run's bit for bit, the
jobs ran on both nodes, every non-local job went through sbatch with the resources its rule
declared (SLURM log files, job ids, nodes and states from squeue), the killed job was retried
asking for twice the memory and time, each GPU job's log names the GPU SLURM assigned it, and a
second run has nothing to do.

Run B: 10 one-second videos without flow through a copy of profiles/slurm whose GPU rules use the
documented ``--gres=gpu:1`` form, with array jobs on, in the steps docs/cluster.md gives for many videos (the
login-node probes, then up to validation, then the rest): each rule's 10 jobs go to SLURM in one
array (one sbatch call), the tasks run on both nodes, the inference tasks carried the --gres
request and their logs name SLURM's GPU.

Needs ``sinfo``/``squeue``/``scontrol`` talking to a cluster with two nodes able to hold the jobs.
In CI (CI=true) a missing cluster is a failure; elsewhere the tests are skipped with the reason.
Takes about 7.5 minutes on a busy 2-core machine (run A 2, run B 4.5).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from clip_workflow import (
    REPO,
    SNAKEMAKE,
    VIDEO,
    assert_same_results,
    environment,
    new_workdir,
    reference_run,
    snakemake,
)
from test_job_groups import workdir_with_videos
from videoclips import make_clip

pytestmark = pytest.mark.slow

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
# These runs check the submissions of single stages (and arrays, which are per rule): job groups
# off. tests/test_slurm_groups.py runs the grouped submissions.
NO_GROUPS = ("--config", "job_groups=false")


NODES = 2  # .ci/slurm/up.sh: sstsal-n1 and sstsal-n2
ARRAY_VIDEOS = 10
# docs/cluster.md and the commented line of profiles/slurm/config.yaml
ARRAY_RULES = "extract_frames,inference,inference_chunk,gather_saliency,render,director,viewer,evaluate"

QUEUE_FIELDS = {  # squeue -O field: our name
    "JobID": "job",
    "ArrayJobID": "array_job",
    "ArrayTaskID": "array_task",
    "State": "state",
    "Comment": "comment",
    "tres-per-job": "gpus",
    "tres-per-node": "gres",
    "MinMemory": "memory",
    "TimeLimit": "time_limit",
    "NumCPUs": "cpus",
    "WorkDir": "workdir",
    "NodeList": "node",
}


# Integration tests (workflow runs on a SLURM cluster): `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


def jobs_in_queue(*args: str) -> dict[str, dict[str, str]]:
    """{job id: {field: value}} from squeue (the CI cluster keeps finished jobs 10 minutes); an
    array task's id is <array job id>_<task id>, as the plugin names it."""
    fmt = ",".join(f"{field}:|" for field in QUEUE_FIELDS)  # "|" after each value
    out = subprocess.run(["squeue", "-h", "-O", fmt, *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"squeue {' '.join(args)} failed: {out.stderr.strip()}")
    rows = []
    for line in out.stdout.splitlines():
        if line.strip():
            row = dict(zip(QUEUE_FIELDS.values(), (v.strip() for v in line.split("|"))))
            array = row["array_task"] not in ("N/A", "")
            row["id"] = f"{row['array_job']}_{row['array_task']}" if array else row["job"]
            rows.append(row)
    return {row["id"]: row for row in rows}


def cluster_problem() -> str | None:
    """Why no job could run on a SLURM cluster from here, or None when one is usable."""
    for tool in ("sinfo", "squeue", "sbatch", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T %m"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s (is slurmctld running?)"
    if out.returncode != 0:
        return f"sinfo failed: {out.stderr.strip()}"
    nodes = [line.split() for line in out.stdout.splitlines() if line.strip()]
    usable = [int(mem) for state, mem in nodes if state.rstrip("*~#") in ("idle", "mixed", "allocated")]
    if len(usable) < NODES:
        return f"{len(usable)} node(s) up, the tests need {NODES} (sinfo -N: {out.stdout.strip() or 'no nodes'})"
    if max(usable) < LARGEST_REQUEST_MB:
        return f"the largest node has {max(usable)} MB but the workflow asks up to {LARGEST_REQUEST_MB} MB per job"
    return None


@pytest.fixture(scope="module")
def cluster():
    problem = cluster_problem()
    if problem is not None:
        message = (
            f"no usable SLURM cluster: {problem}. Start the two-node test cluster with `.ci/slurm/up.sh` "
            "(as root; .ci/slurm/down.sh stops it)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + " -- skipped because CI is not set; with CI=true this fails")


def scontrol_node(node: str, state: str) -> None:
    done = subprocess.run(
        ["scontrol", "update", f"nodename={node}", f"state={state}", "reason=sstsal-test"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"scontrol update nodename={node} state={state}: {done.stderr.strip()}")


class TakeNodeDown(threading.Thread):
    """Take the node of the first running job of ``rule`` submitted from ``workdir`` down a
    moment after its step began (its own log file exists: the script is loading the model or
    computing), and bring it back once the resubmitted job runs on another node (or the run ends)."""

    def __init__(self, workdir: Path, rule: str) -> None:
        super().__init__(daemon=True)
        self.workdir, self.rule = workdir, rule
        self.downed: tuple[str, str] | None = None  # (SLURM job id, node)
        self.rerun_on: str | None = None  # the node the resubmitted job ran on
        self.error: str | None = None
        self.done = threading.Event()

    def ours(self, job: dict[str, str]) -> bool:
        return Path(job["workdir"]) == self.workdir and job["comment"].startswith(f"rule_{self.rule}_")

    def run(self) -> None:
        try:
            while not self.done.is_set() and self.downed is None:
                for job in jobs_in_queue("-t", "RUNNING").values():
                    started = list((self.workdir / "logs" / self.rule / VIDEO).glob("*.log"))
                    if self.ours(job) and started:
                        time.sleep(2)
                        known = {i for i, j in jobs_in_queue("--states=all").items() if self.ours(j)}
                        scontrol_node(job["node"], "down")
                        self.downed = (job["id"], job["node"])
                        break
                time.sleep(0.2)
            while not self.done.is_set() and self.downed is not None:
                # the resubmission: a job of the rule submitted after the node went down
                retries = [j for i, j in jobs_in_queue("-t", "RUNNING").items() if self.ours(j) and i not in known]
                if retries:
                    self.rerun_on = retries[0]["node"]
                    break
                time.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.error = repr(exc)
        finally:
            if self.downed is not None:
                try:
                    scontrol_node(self.downed[1], "resume")
                except AssertionError as exc:
                    self.error = self.error or str(exc)


@contextlib.contextmanager
def visible_devices(value: str) -> Iterator[None]:
    """CUDA_VISIBLE_DEVICES=value for the runs in the block: SLURM replaces it in each GPU job with
    the GPU it assigned; the workflow's own GPU pool would have kept it."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    reference_run()  # the local run first: it must not compete with the SLURM jobs for the CPUs
    workdir = new_workdir(tmp_path_factory.mktemp("slurm"), chunk_frames=CHUNK_FRAMES)
    watcher = TakeNodeDown(workdir, "inference_chunk")
    watcher.start()
    started = time.monotonic()
    try:
        with visible_devices("7"):
            out = snakemake(workdir, *NO_GROUPS, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), timeout=900)
    finally:
        watcher.done.set()
        watcher.join(timeout=60)
    print(f"SLURM run A: {time.monotonic() - started:.0f} s")
    return workdir, out.stdout + out.stderr, watcher


@dataclass(frozen=True)
class Submission:
    """One job as submitted: its rule, Snakemake's job id, SLURM's id (<array>_<task> for an
    array task), the sbatch call it came from, and the resources Snakemake printed for it."""

    rule: str
    jobid: str
    slurm_id: str
    sbatch: str
    request: dict


def submissions(log: str) -> list[Submission]:
    """Every job the plugin submitted, in order, from the run's log: Snakemake prints each job
    (rule, jobid, threads, resources) before the plugin submits it, alone or in an array, and
    again for a retry, whose resources are computed with the next attempt."""
    blocks: dict[str, dict[str, str]] = {}
    found, block = [], None
    for line in log.splitlines():
        text = line.strip()
        if match := re.fullmatch(r"(local)?(rule|checkpoint) (\w+):", text):
            block = {"rule": match[3]}
        elif block is not None and (match := re.fullmatch(r"(jobid|threads): (\d+)", text)):
            block[match[1]] = match[2]
            if match[1] == "jobid":
                blocks[match[2]] = block
        elif block is not None and text.startswith("resources: "):
            block.update(item.split("=", 1) for item in text.removeprefix("resources: ").split(", "))
        elif not text:
            block = None
        if match := re.search(r"Job (\d+) has been submitted with SLURM jobid (\d+)", text):
            request = dict(blocks[match[1]])
            found.append(Submission(request["rule"], match[1], match[2], match[2], request))
        elif match := re.search(
            r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)\. "
            r"The individual task IDs are (\d+)-(\d+)\.",
            text,
        ):
            ids, first = match[1].split(","), int(match[3])
            assert len(ids) == int(match[4]) - first + 1, text
            for offset, jobid in enumerate(ids):
                request = dict(blocks[jobid])
                found.append(Submission(request["rule"], jobid, f"{match[2]}_{first + offset}", match[2], request))
    return found


def slurm_log(workdir: Path, job: Submission) -> Path:
    """The plugin's SLURM log of a job: logs/slurm/rule_<rule>/<wildcards>/<id>.log, or for an
    array task logs/slurm/rule_<rule>/<array id>_<task>.log (sbatch --output takes one pattern)."""
    folder = workdir / "logs" / "slurm" / f"rule_{job.rule}"
    if "_" in job.slurm_id:
        return folder / f"{job.slurm_id}.log"
    [path] = folder.glob(f"*/{job.slurm_id}.log")
    return path


def time_limit(minutes: int) -> str:
    """squeue's TimeLimit of a request of ``minutes``."""
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:00" if hours else f"{minutes}:00"


def job_table(workdir: Path) -> dict[str, dict[str, str]]:
    """squeue's record of every job submitted from ``workdir``."""
    return {k: v for k, v in jobs_in_queue("--states=all").items() if Path(v["workdir"]) == workdir}


def assert_gpu_logs(workdir: Path, rules: tuple[str, ...]) -> int:
    """Each step log of the GPU rules names the GPU SLURM assigned to that job (SLURM_STEP_GPUS
    of the job step the plugin runs it in, which SLURM also put in CUDA_VISIBLE_DEVICES), not one of the workflow's own pool (the run's
    environment says CUDA_VISIBLE_DEVICES=7, which a pool claim would have kept)."""
    logs = [p for rule in rules for p in (workdir / "logs" / rule).rglob("*.log")]
    for path in logs:
        text = path.read_text(errors="replace")
        found = re.findall(r"GPU: \S+ \(CUDA_VISIBLE_DEVICES=([^,)]+)(?:, assigned by SLURM: SLURM_\w+_GPUS=(\S+))?\)", text)
        assert found, f"{path}: no GPU line\n{text[-2000:]}"
        for visible, assigned in found:
            # the array's first task runs in the batch step, where only CUDA_VISIBLE_DEVICES tells
            assert visible != "7" and assigned in ("", visible), (path, visible, assigned)
        assert "pool slot" not in text, path
    assert not (workdir / ".snakemake" / "gpu-pool").exists()
    return len(logs)


def test_slurm_run_gives_the_local_unchunked_results(slurm_run):
    workdir, _, _ = slurm_run
    assert_same_results(workdir, reference_run())
    # chunk folders are temporary; no half-written leftover of the killed job remains
    assert sorted(p.name for p in (workdir / "results" / VIDEO / "chunks").rglob("*")) == ["plan.json"]


def test_jobs_went_through_slurm_on_both_nodes_with_the_rules_resources(slurm_run):
    workdir, log, watcher = slurm_run
    jobs = submissions(log)
    counts = {rule: sum(1 for j in jobs if j.rule == rule) for rule in CLUSTER_JOBS}
    expected = dict(CLUSTER_JOBS, inference_chunk=CLUSTER_JOBS["inference_chunk"] + (watcher.downed is not None))
    assert counts == expected, log[-3000:]
    assert {j.rule for j in jobs} == set(CLUSTER_JOBS)
    for rule in LOCAL_RULES:
        assert re.search(rf"^local(rule|checkpoint) {rule}:$", log, flags=re.M), f"{rule} did not run locally"
    killed = watcher.downed[0] if watcher.downed else None
    # the plugin's SLURM log of each job, under the profile's slurm-logdir, written by the job
    for job in jobs:
        path = slurm_log(workdir, job)
        if job.slurm_id != killed:
            text = path.read_text(errors="replace")
            assert re.search(rf"^(local)?rule {job.rule}:$", text, flags=re.M), text[-2000:]
            assert "1 of 1 steps (100%) done" in text, text[-2000:]
    # SLURM's own record: each id is a real job that ran the rule with the rule's requests
    table = job_table(workdir)
    assert sorted(table) == sorted(j.slurm_id for j in jobs)
    for job in jobs:
        row, request = table[job.slurm_id], job.request
        assert row["comment"].startswith(f"rule_{job.rule}"), row
        assert row["state"] == ("NODE_FAIL" if job.slurm_id == killed else "COMPLETED"), row
        if "_" in job.slurm_id:  # an array asks for its first task's request plus the plugin's margin
            assert int(row["memory"].rstrip("M")) >= int(request["mem_mb"]), (row, request)
        else:
            assert row["memory"] == f"{request['mem_mb']}M", (row, request)
            assert row["time_limit"] == time_limit(int(request["runtime"])), (row, request)
        # threads capped by the CI override's max-threads
        assert request.get("threads", "1") == "1" and row["cpus"] == "1", (row, request)
        # sbatch --gpus=1 for the GPU rules (gpu=1 on a cluster, whatever the login node has),
        # scheduled on the CI cluster's stand-in GPUs
        gpu = int(request.get("gpu", 0))
        assert gpu == (job.rule in ("flow_chunk", "inference_chunk")), (job.rule, request)
        assert row["gpus"] == ("gres:gpu:1" if gpu else "N/A"), row
    # both nodes ran jobs of this run
    assert {row["node"] for row in table.values()} == {"sstsal-n1", "sstsal-n2"}, table


def test_gpu_jobs_compute_on_the_gpu_slurm_assigned(slurm_run):
    workdir, _, _ = slurm_run
    assert assert_gpu_logs(workdir, ("flow_chunk", "inference_chunk")) == 4


def test_a_job_on_a_node_taken_down_finishes_on_the_other_node(slurm_run):
    workdir, log, watcher = slurm_run
    assert watcher.error is None, watcher.error
    assert watcher.downed is not None, "no inference chunk job was caught running to take its node down"
    job_id, node = watcher.downed
    assert re.search(rf"SLURM-job '{job_id}' failed( due to a node failure)?, SLURM status is: 'NODE_FAIL'", log), log[-3000:]
    [killed] = [j for j in submissions(log) if j.slurm_id == job_id]
    attempts = [j for j in submissions(log) if j.jobid == killed.jobid]
    assert len(attempts) == 2 and attempts[0] == killed, attempts
    table = job_table(workdir)
    retry = table[attempts[1].slurm_id]
    assert retry["state"] == "COMPLETED" and retry["node"] != node, (retry, node)
    assert watcher.rerun_on == retry["node"]
    # the second attempt asked SLURM for twice the memory and time (the rule scales by attempt)
    first, second = attempts[0].request, attempts[1].request
    assert int(second["mem_mb"]) == 2 * int(first["mem_mb"]), (first, second)
    assert int(second["runtime"]) == 2 * int(first["runtime"]), (first, second)
    assert retry["memory"] == f"{second['mem_mb']}M", retry
    assert retry["time_limit"] == time_limit(int(second["runtime"])), retry
    # the node is back for later runs
    state = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True, timeout=30)
    assert state.stdout.strip() in ("idle", "mixed", "allocated"), state.stdout


def test_a_second_run_has_nothing_to_do(slurm_run):
    workdir, _, _ = slurm_run
    out = snakemake(workdir, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), "--dry-run", *NO_GROUPS)
    assert "Nothing to be done" in out.stdout + out.stderr


# ---- run B: many short videos, array jobs, the --gres form ----------------------------------

GPU_RULES = ("flow", "inference", "flow_chunk", "inference_chunk", "train")


def gres_profile(folder: Path) -> Path:
    """A copy of profiles/slurm with the GPU rules in the --gres form, as its comments say:
    `gpu: 0` and `gres: "gpu:1"` under each GPU rule in set-resources."""
    copy = folder / "slurm-gres"
    shutil.copytree(PROFILE, copy)
    settings = yaml.safe_load((copy / "config.yaml").read_text())
    for rule in GPU_RULES:
        settings["set-resources"].setdefault(rule, {}).update({"gpu": 0, "gres": "gpu:1"})
    (copy / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return copy


@pytest.fixture(scope="module")
def array_run(cluster, tmp_path_factory):
    """10 one-second videos (128x64, 8 frames, no flow) to their saliency maps, in three steps."""
    workdir = tmp_path_factory.mktemp("slurm-arrays")
    for i in range(ARRAY_VIDEOS):
        make_clip(workdir / "videos" / f"v{i:02d}.mp4", width=128, height=64, fps=8, seconds=1, seed=i)
    (workdir / "config").mkdir()
    settings = {"videos": "videos", "flow": {"method": "none"}, "model": {"device": "cpu"}}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    profile = gres_profile(tmp_path_factory.mktemp("profile"))
    targets = [f"results/v{i:02d}/saliency.npz" for i in range(ARRAY_VIDEOS)]
    args = [*NO_GROUPS, "--workflow-profile", str(profile), "--profile", str(CI_PROFILE), "--slurm-array-jobs", ARRAY_RULES]
    started = time.monotonic()
    logs = [
        snakemake(workdir, *args, *targets, *step, timeout=900) for step in (["--until", "probe"], ["--until", "validate"], [])
    ]
    print(f"SLURM run B ({ARRAY_VIDEOS} videos): {time.monotonic() - started:.0f} s")
    return workdir, [out.stdout + out.stderr for out in logs]


def test_per_video_jobs_go_to_slurm_as_arrays(array_run):
    workdir, logs = array_run
    assert submissions(logs[0]) == []  # the probes run on the login node
    jobs = submissions(logs[1]) + submissions(logs[2])
    assert sorted(j.rule for j in jobs) == sorted(["extract_frames", "inference"] * ARRAY_VIDEOS), logs[2][-3000:]
    # an array (one sbatch call) for (nearly) all the videos of each rule: Snakemake may hand the
    # plugin a straggler on its own, which goes out as a plain job
    calls = {rule: {j.sbatch for j in jobs if j.rule == rule} for rule in ("extract_frames", "inference")}
    print(f"sbatch calls for {ARRAY_VIDEOS} videos: " + ", ".join(f"{r} {len(c)}" for r, c in calls.items()))
    for rule in calls:
        largest = max(sum(1 for j in jobs if j.rule == rule and j.sbatch == c) for c in calls[rule])
        assert largest >= ARRAY_VIDEOS - 1 and len(calls[rule]) <= 2, calls
    table = job_table(workdir)
    assert sorted(table) == sorted(j.slurm_id for j in jobs)
    assert {row["state"] for row in table.values()} == {"COMPLETED"}, table
    assert {row["node"] for row in table.values()} == {"sstsal-n1", "sstsal-n2"}
    for job in jobs:
        assert "1 of 1 steps (100%) done" in slurm_log(workdir, job).read_text(errors="replace")
    for i in range(ARRAY_VIDEOS):
        assert (workdir / "results" / f"v{i:02d}" / "saliency.npz").is_file()


def test_gpu_rules_in_the_gres_form_get_slurms_gpu(array_run):
    workdir, logs = array_run
    jobs = submissions(logs[1]) + submissions(logs[2])
    table = job_table(workdir)
    for job in jobs:
        row = table[job.slurm_id]
        # the documented form: no --gpus, --gres=gpu:1 (SLURM's per-node GRES request)
        assert row["gpus"] == "N/A", row
        assert row["gres"] == ("gres:gpu:1" if job.rule == "inference" else "N/A"), row
        assert job.request.get("gpu", "0") == "0"
    assert assert_gpu_logs(workdir, ("inference",)) == ARRAY_VIDEOS


# ---- checks before the first job under the profile ------------------------------------------


def failed_snakemake(workdir: Path, *args: str) -> str:
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    out = subprocess.run(cmd, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=300)
    assert out.returncode != 0, out.stdout[-2000:]
    return out.stderr


def test_a_request_no_node_can_hold_stops_the_run_before_any_job(cluster, tmp_path):
    workdir = workdir_with_videos(tmp_path / "work", videos=2)
    profile = gres_profile(tmp_path)
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings["set-resources"]["inference"]["mem_mb"] = 999999
    (profile / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    err = failed_snakemake(workdir, *NO_GROUPS, "--workflow-profile", str(profile), "--profile", str(CI_PROFILE))
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err[-3000:]
    assert errors[0].startswith("error: rule inference asks for 1 CPUs, 999999 MB, 1 GPUs, 120 min but no node of "), errors
    assert "(largest sstsal-n" in errors[0] and "set-resources" in errors[0], errors
    assert not (workdir / "results").exists() and not (workdir / "logs" / "slurm").exists()
    assert job_table(workdir) == {}


def test_array_jobs_with_too_few_job_slots_stop_the_run(cluster, tmp_path):
    workdir = workdir_with_videos(tmp_path / "work", videos=2)
    err = failed_snakemake(
        workdir, *NO_GROUPS, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), "--jobs", "3",
        "--slurm-array-jobs", ARRAY_RULES,
    )  # fmt: skip
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "this run submits 14 SLURM jobs with jobs: 3" in errors[0], err[-3000:]
    assert "--jobs 14" in errors[0] and "--slurm-array-jobs none" in errors[0], errors
    assert job_table(workdir) == {}


def test_a_dry_run_says_why_flow_would_rerun_under_the_profile(cluster, tmp_path):
    workdir = workdir_with_videos(tmp_path / "work", videos=2)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump({"videos": "videos"}))  # flow.method auto
    record = workdir / "results" / "v0" / "provenance" / "flow.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"rule": "flow", "params": {"method": "dis"}}')
    out = snakemake(workdir, "--workflow-profile", str(PROFILE), "--profile", str(CI_PROFILE), "--dry-run")
    assert (
        "note: flow.method auto means raft in this run (flow.auto: raft, set by the cluster profile "
        "(profiles/slurm/auto-flow.yaml)), but the flow of 1 finished video(s) (v0) was computed with dis"
    ) in out.stderr, out.stderr[-3000:]
    assert "--config 'flow={method: dis}'" in out.stderr
