"""Chunked flow and inference (config chunk_frames): plans, gathering, and bit-identical maps."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml
from clip_workflow import SAMPLED, VIDEO, folder_bytes, reference_run, snakemake

from sstsal.atomic import write_png
from sstsal.errors import InputError, SstsalError
from sstsal.media.naming import frame_name
from sstsal.media.saliency_stack import load_stack, read_warmup, save_stack
from sstsal.pipeline.chunks import (
    CHUNK_STACK,
    chunk_label,
    compute_flow_chunk,
    gather_flow,
    gather_saliency,
    parse_chunk_label,
    plan_chunks,
    predict_chunk,
    read_plan,
    write_plan,
)


@pytest.mark.parametrize(
    ("frames", "chunk", "plan"),
    [
        (16, 5, [(0, 5), (5, 10), (10, 15), (15, 16)]),  # a last chunk of one frame
        (16, 8, [(0, 8), (8, 16)]),
        (16, 16, [(0, 16)]),
        (16, 100, [(0, 16)]),
        (16, 0, [(0, 16)]),  # 0: no chunking
        (1, 1, [(0, 1)]),
    ],
)
def test_plan_chunks_cover_every_frame_once(frames, chunk, plan):
    assert plan_chunks(frames, chunk) == plan
    covered = [i for start, stop in plan for i in range(start, stop)]
    assert covered == list(range(frames))


def test_plan_chunks_rejects_bad_counts():
    with pytest.raises(InputError, match="0 frames"):
        plan_chunks(0, 5)
    with pytest.raises(InputError, match="chunk_frames"):
        plan_chunks(10, -1)


def test_chunk_labels_round_trip_and_sort_in_frame_order():
    labels = [chunk_label(r) for r in plan_chunks(2500, 1000)]
    assert labels == ["000000-001000", "001000-002000", "002000-002500"]
    assert sorted(labels) == labels
    assert [parse_chunk_label(label) for label in labels] == plan_chunks(2500, 1000)
    for bad in ["5-5", "10-3", "a-b", "12"]:
        with pytest.raises(InputError, match="chunk label"):
            parse_chunk_label(bad)


def fake_frames(folder, count: int, video: str = "v"):
    folder.mkdir(parents=True)
    for i in range(count):
        write_png(folder / frame_name(video, 3 * i), np.full((4, 8, 3), i, np.uint8))
    return folder


def test_write_plan_counts_the_frames(tmp_path):
    frames = fake_frames(tmp_path / "frames", 7)
    labels = write_plan(frames, tmp_path / "plan.json", 3)
    assert labels == ["000000-000003", "000003-000006", "000006-000007"]
    assert read_plan(tmp_path / "plan.json") == labels
    assert json.loads((tmp_path / "plan.json").read_text())["frames"] == 7


def fake_saliency_chunks(root, frames_dir, plan):
    """Chunk folders as predict_chunk writes them: maps/ (PNGs) plus the stack of their frames."""
    names = sorted(p.name for p in frames_dir.iterdir())
    chunks = []
    for start, stop in plan:
        chunk = root / chunk_label((start, stop))
        (chunk / "maps").mkdir(parents=True)
        raw = {}
        for i in range(start, stop):
            value = np.random.default_rng(i).random((240, 320), dtype=np.float32)
            write_png(chunk / "maps" / names[i], (value * 255).astype(np.uint8))
            raw[names[i][: -len(".png")]] = value
        save_stack(chunk / CHUNK_STACK, raw)
        chunks.append(chunk)
    return chunks


def test_gather_saliency_makes_the_whole_video_outputs(tmp_path):
    frames = fake_frames(tmp_path / "frames", 5)
    chunks = fake_saliency_chunks(tmp_path / "chunks", frames, plan_chunks(5, 2))
    assert gather_saliency(chunks, tmp_path / "saliency", tmp_path / "saliency.npz", frames) == 5
    assert sorted(p.name for p in (tmp_path / "saliency").iterdir()) == sorted(p.name for p in frames.iterdir())
    maps, names = load_stack(tmp_path / "saliency.npz")
    assert names == [frame_name("v", 3 * i)[: -len(".png")] for i in range(5)]
    expected = np.random.default_rng(3).random((240, 320), dtype=np.float32).astype(np.float16)
    assert np.array_equal(maps[3], expected)
    # the video's first 4 maps are its warm-up maps, whichever chunk made them
    assert read_warmup(tmp_path / "saliency.npz") == set(names[:4])


def test_gather_saliency_refuses_a_missing_or_repeated_frame(tmp_path):
    frames = fake_frames(tmp_path / "frames", 5)
    chunks = fake_saliency_chunks(tmp_path / "chunks", frames, [(0, 2), (3, 5)])  # frame 2 lost
    with pytest.raises(SstsalError, match=r"missing \['v_0006.png'\]"):
        gather_saliency(chunks, tmp_path / "saliency", tmp_path / "saliency.npz", frames)
    overlapping = fake_saliency_chunks(tmp_path / "overlap", frames, [(0, 3), (2, 5)])
    with pytest.raises(SstsalError, match="in several chunks"):
        gather_saliency(overlapping, tmp_path / "saliency", tmp_path / "saliency.npz", frames)
    # nothing that looks finished
    assert not (tmp_path / "saliency").exists() and not (tmp_path / "saliency.npz").exists()


def test_gather_saliency_with_frame_numbers_past_9999(tmp_path):
    # Long videos: names sort differently as text (v_10002 < v_9996) than as frame numbers.
    frames = tmp_path / "frames"
    frames.mkdir()
    numbers = [9990, 9993, 9996, 9999, 10002, 10005]
    for n in numbers:
        write_png(frames / frame_name("v", n), np.zeros((4, 8, 3), np.uint8))
    names = [frame_name("v", n) for n in numbers]  # frame order
    chunks = []
    for start, stop in plan_chunks(len(numbers), 4):
        chunk = tmp_path / "chunks" / chunk_label((start, stop))
        (chunk / "maps").mkdir(parents=True)
        raw = {}
        for i in range(start, stop):
            write_png(chunk / "maps" / names[i], np.full((240, 320), i, np.uint8))
            raw[names[i][: -len(".png")]] = np.full((240, 320), i, np.float32)
        save_stack(chunk / CHUNK_STACK, raw)
        chunks.append(chunk)
    assert gather_saliency(chunks, tmp_path / "saliency", tmp_path / "saliency.npz", frames) == 6
    maps, stack_names = load_stack(tmp_path / "saliency.npz")
    assert stack_names == [n[: -len(".png")] for n in names]
    assert [int(m[0, 0]) for m in maps] == list(range(6))


def test_gather_flow_names_a_missing_chunk(tmp_path):
    frames = fake_frames(tmp_path / "frames", 4)
    with pytest.raises(SstsalError, match="chunk folder .* is missing"):
        gather_flow([tmp_path / "chunks" / "000000-000004"], tmp_path / "flow", frames)
    assert not (tmp_path / "flow").exists()


@pytest.mark.slow  # a workflow run
def test_chunks_gather_to_the_unchunked_outputs_bit_for_bit(tmp_path):
    """The chunk steps of the workflow (flow_chunk, gather_flow, inference_chunk,
    gather_saliency) on the reference run's frames give its flow images, maps and stack.

    Chunks of 9 of the 28 frames: [18, 27) straddles the end of the first inference window
    (20) and starts inside the tail window [8, 28); [27, 28) is one frame whose flow repeats
    the pair (26, 27) computed from the chunk before it.
    """
    reference = reference_run() / "results" / VIDEO
    plan = plan_chunks(SAMPLED, 9)
    assert plan == [(0, 9), (9, 18), (18, 27), (27, 28)]
    flow_chunks = [tmp_path / "chunks" / "flow" / chunk_label(r) for r in plan]
    for frame_range, chunk in zip(plan, flow_chunks):
        # the settings workflow/scripts/flow_chunk.py passes for the clip's config
        written = compute_flow_chunk(
            reference / "flow_frames", chunk, frame_range=frame_range, method="dis", checkpoint="auto",
            width=256, iters=20, seam="pad", device="cpu", color_order="rgb", save_raw=False,
        )  # fmt: skip
        assert len(written) == frame_range[1] - frame_range[0]
    gather_flow(flow_chunks, tmp_path / "flow", reference / "flow_frames")
    assert folder_bytes(tmp_path / "flow") == folder_bytes(reference / "flow")

    saliency_chunks = [tmp_path / "chunks" / "saliency" / chunk_label(r) for r in plan]
    for frame_range, chunk in zip(plan, saliency_chunks):
        count = predict_chunk(reference / "frames", chunk, frame_range=frame_range, flow_dir=tmp_path / "flow", device="cpu")
        assert count == frame_range[1] - frame_range[0]
    gather_saliency(saliency_chunks, tmp_path / "saliency", tmp_path / "saliency.npz", reference / "frames")
    ours, theirs = folder_bytes(tmp_path / "saliency"), folder_bytes(reference / "saliency")
    assert sorted(ours) == sorted(theirs)
    assert [n for n in ours if ours[n] != theirs[n]] == []
    maps, names = load_stack(tmp_path / "saliency.npz")
    ref_maps, ref_names = load_stack(reference / "saliency.npz")
    assert names == ref_names and len(names) == SAMPLED
    assert np.array_equal(maps.view(np.uint16), ref_maps.view(np.uint16))


@pytest.mark.slow  # a workflow run
def test_turning_chunks_on_plans_a_job_per_chunk(tmp_path):
    """On a finished unchunked run, chunk_frames reruns flow and inference as chunk jobs
    (the gather rules take over the outputs); a flow setting reaches every flow chunk."""
    workdir = shutil.copytree(reference_run(), tmp_path / "run", symlinks=True)
    config = workdir / "config" / "config.yaml"
    config.write_text(yaml.safe_dump(dict(yaml.safe_load(config.read_text()), chunk_frames=9)))
    # the plan is a checkpoint: it runs (locally, cheaply) before the chunk jobs can be listed
    snakemake(workdir, f"results/{VIDEO}/chunks/plan.json", "--cores", "1")
    assert read_plan(workdir / "results" / VIDEO / "chunks" / "plan.json") == [chunk_label(r) for r in plan_chunks(SAMPLED, 9)]
    jobs = planned_jobs(workdir)
    assert jobs["flow_chunk"] == jobs["inference_chunk"] == 4, jobs
    assert jobs["gather_flow"] == jobs["gather_saliency"] == 1, jobs
    assert "flow" not in jobs and "inference" not in jobs, jobs


def planned_jobs(workdir, *args: str) -> dict[str, int]:
    """{rule: number of jobs} of a dry run."""
    out = snakemake(workdir, "--cores", "2", "--dry-run", *args)
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", out.stdout + out.stderr, flags=re.M) if rule != "total"}


def test_chunked_flow_keeps_the_raw_flow_like_a_whole_run(tmp_path):
    """flow.save_raw with chunks: flow.npz in the flow folder and flow_raw/<frame>.npy are
    gathered to what one whole-video flow stage writes."""
    from videoclips import moving_frames

    from sstsal.flow.engines import RAW_NPZ, compute_flow_folder

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, image in enumerate(moving_frames(64, 32, 6)):
        write_png(frames / frame_name("v", 2 * i), image)
    options = dict(method="dis", device="cpu", color_order="rgb", save_raw=True, progress=False)
    compute_flow_folder(frames, tmp_path / "whole", raw_npy_dir=tmp_path / "whole_raw", **options)
    chunks = [tmp_path / "chunks" / chunk_label(r) for r in plan_chunks(6, 4)]
    for frame_range, chunk in zip(plan_chunks(6, 4), chunks):
        compute_flow_chunk(frames, chunk, frame_range=frame_range, raw_npy=True, **options)
    gather_flow(chunks, tmp_path / "flow", frames, raw_dir=tmp_path / "flow_raw")

    whole, gathered = folder_bytes(tmp_path / "whole"), folder_bytes(tmp_path / "flow")
    assert sorted(whole) == sorted(gathered) == sorted([frame_name("v", 2 * i) for i in range(6)] + [RAW_NPZ])
    assert all(whole[n] == gathered[n] for n in whole if n != RAW_NPZ)
    with np.load(tmp_path / "whole" / RAW_NPZ) as a, np.load(tmp_path / "flow" / RAW_NPZ) as b:
        assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
    assert folder_bytes(tmp_path / "whole_raw") == folder_bytes(tmp_path / "flow_raw")
