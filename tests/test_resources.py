"""What the workflow's jobs ask for: sstsal.pipeline.resources, the rules' dry-run requests, and
profiles/slurm holding only the site's settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import snakemake_run
import yaml
from videoclips import make_clip

from sstsal.frame_size import flow_working_width
from sstsal.pipeline.resources import REFERENCE_WIDTH, flow_size_factor, scaled_request

REPO = snakemake_run.REPO


def test_flow_working_width_is_capped_by_the_source():
    assert flow_working_width(2048, 3840) == 2048
    assert flow_working_width(2048, 1920) == 1920
    assert flow_working_width(None, 1920) == 1920  # null = the source's width
    assert flow_working_width(4096, None) == 4096  # source not probed yet
    assert flow_working_width(None, None) is None


def test_flow_size_factor_follows_the_pixels_above_the_reference():
    assert REFERENCE_WIDTH == 2048
    assert flow_size_factor(2048, None) == 1.0
    assert flow_size_factor(4096, None) == 4.0
    assert flow_size_factor(4096, 3072) == pytest.approx(2.25)
    assert flow_size_factor(None, 7680) == pytest.approx(14.0625)
    # below the reference the stated request stays (fixed costs dominate)
    assert flow_size_factor(512, None) == 1.0
    assert flow_size_factor(4096, 1920) == 1.0
    assert flow_size_factor(None, None) == 1.0


def test_scaled_request_grows_with_the_attempt_and_rounds_up():
    assert [scaled_request(8000, attempt) for attempt in (1, 2, 3)] == [8000, 16000, 24000]
    assert scaled_request(120, 2, factor=2.25) == 540
    assert scaled_request(100, 1, factor=1.001) == 101
    with pytest.raises(ValueError, match="attempt 0"):
        scaled_request(8000, 0)
    with pytest.raises(ValueError, match="positive"):
        scaled_request(0, 1)


def dry_run_requests(workdir: Path, *args: str) -> dict[str, dict[str, str]]:
    """{rule: its threads and resources} of every job a dry run plans (one video)."""
    out = snakemake_run.snakemake(workdir, "--dry-run", *args, cores=8, cwd=workdir, timeout=300)
    found: dict[str, dict[str, str]] = {}
    rule = None
    for line in (out.stdout + out.stderr).splitlines():
        text = line.strip()
        if match := re.fullmatch(r"(?:local)?rule (\w+):", text):
            rule = match[1]
            found[rule] = {"threads": "1"}
        elif rule and (match := re.fullmatch(r"threads: (\d+)", text)):
            found[rule]["threads"] = match[1]
        elif rule and text.startswith("resources: "):
            found[rule].update(item.split("=", 1) for item in text.removeprefix("resources: ").split(", "))
    return found


@pytest.mark.slow
def test_rules_declare_threads_memory_and_time_scaled_by_the_flow_width(tmp_path):
    make_clip(tmp_path / "videos" / "clip.mp4", width=256, height=128, fps=12, seconds=1)
    (tmp_path / "config").mkdir()
    config = {"videos": "videos", "flow": {"method": "dis"}, "model": {"device": "cpu"}}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    plain = dry_run_requests(tmp_path)  # flow.width 2048 (the default): the rules' stated requests
    expected = {  # rule: (threads, mem_mb, runtime)
        "extract_frames": ("4", "8000", "120"),
        "extract_flow_frames": ("4", "8000", "120"),
        "flow": ("4", "16000", "120"),
        "inference": ("4", "16000", "120"),
        "render": ("4", "8000", "120"),
    }
    for rule, (threads, mem_mb, runtime) in expected.items():
        assert (plain[rule]["threads"], plain[rule]["mem_mb"], plain[rule]["runtime"]) == (threads, mem_mb, runtime)
    assert plain["flow"]["gpu"] == "0" and plain["inference"]["gpu"] == "0"  # locally, device cpu
    for rule in ("probe", "validate", "summary"):  # local rules: nothing to ask a cluster for
        assert "mem_mb" not in plain[rule] and "runtime" not in plain[rule], plain[rule]

    # twice the width: four times the pixels for the stages holding frames at the flow width
    wide = dry_run_requests(tmp_path, "--config", "flow={method: dis, width: 4096}")
    assert (wide["flow"]["mem_mb"], wide["flow"]["runtime"]) == ("64000", "480")
    assert (wide["extract_flow_frames"]["mem_mb"], wide["extract_flow_frames"]["runtime"]) == ("32000", "480")
    assert (wide["inference"]["mem_mb"], wide["extract_frames"]["mem_mb"]) == ("16000", "8000")

    # once the probe record says the source is 256 wide, the flow runs at 256: the stated requests
    snakemake_run.snakemake(tmp_path, "results/clip/video.json", cores=1, cwd=tmp_path, timeout=300)
    capped = dry_run_requests(tmp_path, "--config", "flow={method: dis, width: 4096}")
    assert (capped["flow"]["mem_mb"], capped["flow"]["runtime"]) == ("16000", "120")
    assert capped["extract_flow_frames"]["mem_mb"] == "8000"


def test_slurm_profile_holds_only_site_settings():
    """Threads, memory, time and the GPU count are the rules'; the profile adds the CPU request
    form of the GPU jobs (--cpus-per-gpu) and the executor's settings."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert "set-threads" not in profile
    # the site's partition and account, if set, are the only defaults
    assert set(profile.get("default-resources") or {}) <= {"slurm_partition", "slurm_account"}
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    for rule, resources in profile["set-resources"].items():
        assert resources == {"cpus_per_gpu": "threads"}, (rule, resources)
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    for rule in profile["set-resources"]:
        block = re.search(rf"rule {rule}:\n(.*?)\n\s*script:", rules, flags=re.S)
        assert block and "gpu=gpu_request(" in block[1], f"{rule} is no GPU rule"
