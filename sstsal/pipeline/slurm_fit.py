"""Can a SLURM job ever start? Each rule's request against what ``sinfo`` says the nodes offer.

A job asking for more CPUs, memory, GPUs or time than any node of its partition has stays
``PENDING (PartitionConfig)`` or similar for ever, and Snakemake waits without a word. The
workflow checks every rule it is about to submit against the nodes when the run starts
(``onstart``, under the SLURM executor) and stops with one line naming the rule, its request
and the largest node.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sstsal.errors import InputError

# sinfo -N: one line per node and partition (%N node, %P partition with "*" on the default one,
# %c CPUs, %m memory in MB, %G generic resources, %l the partition's time limit).
SINFO_FORMAT = "%N|%P|%c|%m|%G|%l"


@dataclass(frozen=True)
class Node:
    """One node of one partition as SLURM offers it."""

    name: str
    partition: str
    default: bool  # the partition jobs without --partition go to
    cpus: int
    mem_mb: int
    gpus: int
    time_limit_min: float  # the partition's; inf when unlimited

    def describe(self) -> str:
        limit = "no time limit" if self.time_limit_min == float("inf") else f"time limit {self.time_limit_min:g} min"
        return f"{self.name}: {self.cpus} CPUs, {self.mem_mb} MB, {self.gpus} GPUs, {limit}"


@dataclass(frozen=True)
class Request:
    """What one job of a rule (or one job group, whose steps go out in one submission) asks SLURM for."""

    rule: str  # a group's: its rules, comma-separated
    partition: str | None
    cpus: int
    mem_mb: int
    gpus: int
    runtime_min: int
    group: str | None = None

    @property
    def label(self) -> str:
        return f"job group {self.group} ({self.rule})" if self.group else f"rule {self.rule}"

    def describe(self) -> str:
        return f"{self.cpus} CPUs, {self.mem_mb} MB, {self.gpus} GPUs, {self.runtime_min} min"


def gres_gpus(gres: str) -> int:
    """GPUs in a GRES string: ``gpu:2``, ``gpu:a100:4(S:0-1)``, ``gpu:1,shard:4``; 0 without."""
    total = 0
    for item in gres.split(","):
        parts = re.sub(r"\(.*?\)", "", item).strip().split(":")
        if parts[0] == "gpu":
            total += int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return total


def time_minutes(limit: str) -> float:
    """SLURM's time limit (``infinite``, ``30:00``, ``2:00:00``, ``1-12:00:00``) in minutes."""
    limit = limit.strip()
    if limit in ("infinite", "UNLIMITED", "n/a", ""):
        return float("inf")
    days, _, clock = limit.rpartition("-")
    fields = [int(f) for f in clock.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = (fields + [0, 0])[:3]
    else:  # minutes, minutes:seconds or hours:minutes:seconds
        hours, minutes, seconds = (
            ([0] * (3 - len(fields)) + fields) if len(fields) == 3 else (0, fields[0], fields[1] if len(fields) == 2 else 0)
        )
    return (int(days or 0) * 24 + hours) * 60 + minutes + seconds / 60


def parse_sinfo(text: str) -> list[Node]:
    """Nodes from ``sinfo -h -N -o SINFO_FORMAT``."""
    nodes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, partition, cpus, mem, gres, limit = line.split("|")
        nodes.append(
            Node(
                name=name,
                partition=partition.rstrip("*"),
                default=partition.endswith("*"),
                cpus=int(cpus),
                mem_mb=int(re.sub(r"\D", "", mem) or 0),
                gpus=gres_gpus(gres),
                time_limit_min=time_minutes(limit),
            )
        )
    return nodes


def slurm_nodes() -> list[Node]:
    """The cluster's nodes from sinfo; InputError when sinfo cannot be asked."""
    if shutil.which("sinfo") is None:
        raise InputError("the SLURM profile is in use but sinfo is not on PATH: run snakemake on the cluster's login node")
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", SINFO_FORMAT], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise InputError("sinfo did not answer within 60 s: is the cluster's controller (slurmctld) up?") from None
    if out.returncode != 0:
        raise InputError(f"sinfo failed ({out.stderr.strip()}): is this a SLURM login node?")
    return parse_sinfo(out.stdout)


def job_request(rule: str, threads: int, resources: Mapping, group: str | None = None) -> Request:
    """The request of one Snakemake job (or job ``group``) as profiles/slurm submits it: CPUs =
    threads per GPU (``--cpus-per-gpu``) for a GPU job, ``--cpus-per-task`` = threads otherwise."""

    def number(key: str) -> int:
        value = resources.get(key)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

    gpus = number("gpu") or gres_gpus(str(resources.get("gres") or ""))
    partition = resources.get("slurm_partition")
    return Request(
        rule=rule,
        partition=str(partition) if partition else None,
        cpus=max(1, int(threads)) * max(1, gpus),
        mem_mb=number("mem_mb"),
        gpus=gpus,
        runtime_min=number("runtime"),
        group=group,
    )


def fits(request: Request, node: Node) -> bool:
    return (
        request.cpus <= node.cpus
        and request.mem_mb <= node.mem_mb
        and request.gpus <= node.gpus
        and request.runtime_min <= node.time_limit_min
    )


def unfit_request(requests: Iterable[Request], nodes: list[Node]) -> str | None:
    """One line naming the first request no node of its partition can ever hold, or None."""
    for request in requests:
        if request.partition:
            candidates = [n for n in nodes if n.partition == request.partition]
            where = f"partition {request.partition}"
        else:
            candidates = [n for n in nodes if n.default]
            where = f"the default partition ({candidates[0].partition})" if candidates else "the default partition"
        if not candidates:
            known = sorted({n.partition for n in nodes})
            return (
                f"{request.label} is to be submitted to {where}, which sinfo does not list "
                f"(partitions: {', '.join(known) or 'none'}): set slurm_partition in the profile"
            )
        if any(fits(request, node) for node in candidates):
            continue
        largest = max(candidates, key=lambda n: (n.gpus >= request.gpus, n.mem_mb, n.cpus, n.time_limit_min))
        # a group asks for the sum of its steps side by side: --cores N caps it at N CPUs (its steps
        # then share them, their times added), job_groups=false sends each step alone
        lower = (
            "cap the CPUs of each job group with --cores N (its steps then run one after the other) or run "
            "without groups (--config job_groups=false)"
            if request.group
            else "lower the request under set-resources in the profile (or cap threads with --max-threads)"
        )
        return (
            f"{request.label} asks for {request.describe()} but no node of {where} can ever run it "
            f"(largest {largest.describe()}): {lower}, or choose a partition with larger nodes (slurm_partition)"
        )
    return None
