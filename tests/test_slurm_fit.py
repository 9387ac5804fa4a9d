"""sstsal.pipeline.slurm_fit: a rule's request against the nodes sinfo lists."""

from __future__ import annotations

import math

import pytest

from sstsal.pipeline.slurm_fit import (
    Node,
    Request,
    gres_gpus,
    job_request,
    parse_sinfo,
    time_minutes,
    unfit_request,
)

SINFO = """\
cpu01|cpu*|64|256000|(null)|2-00:00:00
gpu01|gpu|32|512000|gpu:a100:4(S:0-1)|1-00:00:00
gpu02|gpu|16|128000|gpu:2|1-00:00:00
"""


@pytest.mark.parametrize(
    ("limit", "minutes"),
    [("infinite", math.inf), ("30:00", 30), ("2:00:00", 120), ("1-12:00:00", 2160), ("1-00", 1440), ("90", 90)],
)
def test_time_minutes(limit: str, minutes: float) -> None:
    assert time_minutes(limit) == minutes


@pytest.mark.parametrize(
    ("gres", "gpus"), [("(null)", 0), ("gpu:2", 2), ("gpu:a100:4(S:0-1)", 4), ("gpu:1,shard:4", 1), ("gpu", 1)]
)
def test_gres_gpus(gres: str, gpus: int) -> None:
    assert gres_gpus(gres) == gpus


def test_parse_sinfo() -> None:
    nodes = parse_sinfo(SINFO)
    assert nodes[0] == Node("cpu01", "cpu", True, 64, 256000, 0, 2880)
    assert [(n.name, n.partition, n.default, n.gpus) for n in nodes[1:]] == [
        ("gpu01", "gpu", False, 4),
        ("gpu02", "gpu", False, 2),
    ]


def test_job_request_counts_cpus_per_gpu() -> None:
    assert job_request("flow", 4, {"gpu": 2, "mem_mb": 16000, "runtime": 120}) == Request("flow", None, 8, 16000, 2, 120)
    # the --gres form (gpu: 0 plus gres) and a partition
    request = job_request("inference", 4, {"gpu": 0, "gres": "gpu:1", "slurm_partition": "gpu", "mem_mb": 1})
    assert (request.gpus, request.cpus, request.partition) == (1, 4, "gpu")
    # resources not known yet (Snakemake's TBD strings) count as 0
    assert job_request("render", 1, {"mem_mb": "<TBD>"}).mem_mb == 0


def test_a_request_that_fits_a_node_passes() -> None:
    nodes = parse_sinfo(SINFO)
    assert unfit_request([Request("inference", "gpu", 4, 16000, 1, 120)], nodes) is None
    assert unfit_request([Request("extract_frames", None, 4, 8000, 0, 120)], nodes) is None


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (Request("inference", "gpu", 64, 16000, 1, 120), "64 CPUs"),
        (Request("inference", "gpu", 4, 600000, 1, 120), "600000 MB"),
        (Request("train", "gpu", 8, 32000, 8, 120), "8 GPUs"),
        (Request("train", "gpu", 8, 32000, 1, 2880), "2880 min"),
        (Request("flow", None, 4, 16000, 1, 120), "the default partition (cpu)"),
    ],
)
def test_a_request_no_node_can_hold_is_named(request_: Request, words: str) -> None:
    message = unfit_request([request_], parse_sinfo(SINFO))
    assert message is not None and message.startswith(f"rule {request_.rule} asks for ")
    assert words in message and "largest " in message, message


def test_an_unknown_partition_is_named() -> None:
    message = unfit_request([Request("flow", "gpus", 4, 1, 1, 1)], parse_sinfo(SINFO))
    assert message is not None and "partition gpus" in message and "cpu, gpu" in message


def test_a_job_group_too_large_for_every_node_is_named_with_its_rules() -> None:
    # two extractions side by side in one submission (job_groups): 4 + 4 CPUs fit no 6-CPU node
    group = job_request("extract_flow_frames, extract_frames, probe", 8, {"mem_mb": 16000, "runtime": 240}, group="frames")
    assert group.label == "job group frames (extract_flow_frames, extract_frames, probe)"
    nodes = parse_sinfo("small01|cpu*|6|64000|(null)|infinite\n")
    message = unfit_request([group], nodes)
    assert message is not None and message.startswith(
        "job group frames (extract_flow_frames, extract_frames, probe) asks for 8 CPUs, 16000 MB, 0 GPUs, 240 min"
    ), message
    assert "--cores N" in message and "job_groups=false" in message, message
    assert unfit_request([job_request("extract_frames", 4, {"mem_mb": 8000, "runtime": 120})], nodes) is None
