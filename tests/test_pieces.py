"""Resumable pieces of a long flow or inference job (config piece_seconds): the gathered outputs
equal a run in one piece bit for bit, and a killed run redoes only its unfinished piece."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import sstsal.pipeline.chunks as chunks
from sstsal.media.saliency_stack import load_stack
from sstsal.model.predictor import SaliencyPredictor, predict_video
from sstsal.model.settings import InferenceSettings
from sstsal.pipeline.pieces import compute_flow_in_pieces, piece_frames, predict_video_in_pieces, run_in_pieces
from tests.conftest import shared_path

GOLDEN = "fixtures/sstsal-golden"


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_piece_frames_by_duration():
    assert piece_frames(300, 8) == 2400
    assert piece_frames(0, 8) == 0  # one piece
    assert piece_frames(0.1, 8) == 1
    with pytest.raises(ValueError):
        piece_frames(-1, 8)


def test_only_unfinished_pieces_are_made_and_other_settings_start_again(tmp_path):
    made = []

    def make(frame_range, piece):
        made.append(frame_range)
        piece.mkdir()

    run_in_pieces(tmp_path / "p", 10, 4, {"a": 1}, make)
    assert made == [(0, 4), (4, 8), (8, 10)]
    shutil.rmtree(tmp_path / "p" / "000004-000008")  # killed while making it
    made.clear()
    pieces = run_in_pieces(tmp_path / "p", 10, 4, {"a": 1}, make)
    assert made == [(4, 8)] and [p.name for p in pieces] == ["000000-000004", "000004-000008", "000008-000010"]
    made.clear()
    run_in_pieces(tmp_path / "p", 10, 4, {"a": 2}, make)  # another setting: nothing is reused
    assert made == [(0, 4), (4, 8), (8, 10)]


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    """The golden clip's first 26 frames (two model windows and a tail)."""
    root = tmp_path_factory.mktemp("clip")
    frames = root / "frames"
    frames.mkdir()
    for p in sorted(shared_path(f"{GOLDEN}/input/frames/001").iterdir())[:26]:
        shutil.copy(p, frames / p.name)
    return frames


def test_pieces_give_the_one_piece_maps_bit_for_bit_and_resume(short_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("SSTSAL_MODELS", str(shared_path("models")))
    predictor = SaliencyPredictor.from_settings(InferenceSettings(no_flow=True, device="cpu"))
    whole = tmp_path / "whole"
    predict_video(short_clip, whole / "saliency", whole / "saliency.npz", predictor=predictor)

    # pieces of 9 frames: [18, 26) starts inside the first window's end and holds the tail window
    made = []
    real_predict_chunk = chunks.predict_chunk

    def killed_at_the_last_piece(frames_dir, piece, *, frame_range, **run):
        if frame_range == (18, 26):
            raise KeyboardInterrupt
        made.append(frame_range)
        return real_predict_chunk(frames_dir, piece, frame_range=frame_range, **run)

    out = tmp_path / "pieces_run"
    work = out / "pieces" / "saliency"
    args = (short_clip, out / "saliency", out / "saliency.npz", work)
    monkeypatch.setattr(chunks, "predict_chunk", killed_at_the_last_piece)
    with pytest.raises(KeyboardInterrupt):
        predict_video_in_pieces(*args, frames_per_piece=9, fingerprint={"v": 1}, predictor=predictor)
    assert made == [(0, 9), (9, 18)] and not (out / "saliency.npz").exists()

    def counting(frames_dir, piece, *, frame_range, **run):
        made.append(frame_range)
        return real_predict_chunk(frames_dir, piece, frame_range=frame_range, **run)

    made.clear()
    monkeypatch.setattr(chunks, "predict_chunk", counting)
    assert predict_video_in_pieces(*args, frames_per_piece=9, fingerprint={"v": 1}, predictor=predictor) == 26
    assert made == [(18, 26)]  # the rerun made only the unfinished piece
    assert not work.exists()  # gathered: the pieces are gone
    assert folder_bytes(out / "saliency") == folder_bytes(whole / "saliency")
    maps, names = load_stack(out / "saliency.npz")
    ref_maps, ref_names = load_stack(whole / "saliency.npz")
    assert names == ref_names and np.array_equal(maps.view(np.uint16), ref_maps.view(np.uint16))


def test_flow_pieces_give_the_one_piece_images(short_clip, tmp_path):
    options = dict(method="dis", width=256, device="cpu")
    from sstsal.flow.settings import FlowSettings

    settings = FlowSettings.from_options(None, **options)
    compute_flow_in_pieces(short_clip, tmp_path / "whole", settings, tmp_path / "unused", frames_per_piece=0, fingerprint={})
    assert compute_flow_in_pieces(short_clip, tmp_path / "flow", settings, tmp_path / "p", frames_per_piece=7, fingerprint={}) == 26
    assert folder_bytes(tmp_path / "flow") == folder_bytes(tmp_path / "whole") and not (tmp_path / "p").exists()
