"""The test data: where it is found, the pinned public sources it is built from, and its content."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import testdata
import torch

from sstsal.hashing import sha256_of
from sstsal.model.weights import CHECKPOINTS
from tests.conftest import shared_path


def test_data_root_prefers_the_variable_then_the_sibling_folder_then_the_cache(monkeypatch, tmp_path):
    repo = tmp_path / "clone" / "repo"
    repo.mkdir(parents=True)
    monkeypatch.setattr(testdata, "REPO", repo)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SSTSAL_SHARED")
    # a plain clone: the cache's folder (not built here)
    assert testdata.data_root(build=False) == tmp_path / "cache" / "testdata" / f"v{testdata.VERSION}"
    (repo.parent / "shared").mkdir()
    assert testdata.data_root(build=False) == repo.parent / "shared"
    monkeypatch.setenv("SSTSAL_SHARED", str(tmp_path / "elsewhere"))
    assert testdata.data_root(build=False) == tmp_path / "elsewhere"


def _mirror_archive(mirror: Path, archive: testdata.Archive, members: dict[str, bytes]) -> None:
    """A .tar.gz of ``members`` where GitHub serves ``archive``, under ``mirror``."""
    path = mirror / f"{archive.repo}/archive/{archive.commit}.tar.gz"
    path.parent.mkdir(parents=True)
    top = f"{archive.repo.split('/')[1]}-{archive.commit}"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_members_are_checked_against_their_pins(monkeypatch, tmp_path):
    archive = testdata.Archive("someone/Code", "0" * 40, "Code", {"a.py": sha256_bytes(b"print(1)\n"), "b.py": sha256_bytes(b"")})
    monkeypatch.setenv("SSTSAL_UPSTREAM", (tmp_path / "good").as_uri())
    _mirror_archive(tmp_path / "good", archive, {"a.py": b"print(1)\n", "b.py": b"", "unpinned.py": b"x"})
    target = testdata.fetch_archive(archive, tmp_path / "sources", tmp_path)
    assert sorted(p.name for p in target.iterdir()) == ["a.py", "b.py"]  # only pinned files are unpacked
    monkeypatch.setenv("SSTSAL_UPSTREAM", (tmp_path / "bad").as_uri())
    _mirror_archive(tmp_path / "bad", archive, {"a.py": b"print(2)\n", "b.py": b""})
    with pytest.raises(OSError, match="a.py in .* has sha256 .*refused"):
        testdata.fetch_archive(archive, tmp_path / "sources2", tmp_path)
    monkeypatch.setenv("SSTSAL_UPSTREAM", (tmp_path / "short").as_uri())
    _mirror_archive(tmp_path / "short", archive, {"a.py": b"print(1)\n"})
    with pytest.raises(OSError, match="has no file b.py"):
        testdata.fetch_archive(archive, tmp_path / "sources3", tmp_path)


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_data_holds_the_pinned_published_files():
    """The checkpoints and the clip are the pinned files, whichever way the data folder was made."""
    for name, spec in CHECKPOINTS.items():
        assert sha256_of(shared_path(f"models/{name}")) == spec.sha256, name
    clip = shared_path(f"videos/{testdata.clip_file().name}")
    assert clip.stat().st_size == testdata.CLIP_SIZE and sha256_of(clip) == testdata.CLIP_SHA256
    for relative, spec in testdata.loose_files().items():  # the gaze recording
        path = shared_path(relative)
        assert path.stat().st_size == spec.size and sha256_of(path) == spec.sha256, relative


def test_a_folder_built_before_a_loose_file_was_added_gets_it_without_a_rebuild(monkeypatch, tmp_path):
    """A complete built folder without the gaze file (built before it was listed) is topped up from
    the mirror, sha256-checked; a wrong copy on the mirror is refused and leaves nothing behind."""
    relative, spec = next(iter(testdata.loose_files().items()))
    mirror = tmp_path / "mirror"
    (mirror / spec.url).parent.mkdir(parents=True)
    (mirror / spec.url).write_bytes(shared_path(relative).read_bytes())
    monkeypatch.setattr(testdata, "REPO", tmp_path / "clone" / "repo")  # no ../shared beside it
    monkeypatch.delenv("SSTSAL_SHARED")
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SSTSAL_UPSTREAM", mirror.as_uri())
    root = testdata.built_root()
    root.mkdir(parents=True)
    (root / testdata.COMPLETE).write_text("built\n")
    assert testdata.data_root() == root
    assert sha256_of(root / relative) == spec.sha256
    (root / relative).unlink()
    (mirror / spec.url).write_bytes(b"oculoTS,unityTS\n")
    with pytest.raises(Exception, match="sha256"):
        testdata.data_root()
    assert not (root / relative).exists()


def test_golden_fixtures_are_complete():
    """What the golden tests read: 90 frames and flow images at 640x320, the published code's 80
    maps per checkpoint, RAFT weights in the published layout and its flow for two pairs."""
    golden = shared_path("fixtures/sstsal-golden")
    frames = sorted(p.name for p in (golden / "input/frames/001").glob("*.png"))
    assert len(frames) == 90 and frames[0] == "001_0000.png" and frames[-1] == "001_0356.png"
    assert sorted(p.name for p in (golden / "input/flow/001").glob("*.png")) == frames
    assert cv2.imread(str(golden / "input/flow/001" / frames[0])).shape == (320, 640, 3)
    for kind in ("with_flow", "no_flow"):
        raw = np.load(golden / "expected" / kind / "raw.npz")
        assert sorted(raw.files) == [f[:-4] for f in frames[4:84]], kind  # windows [0, 84), warm-up dropped
        assert raw[raw.files[0]].shape == (240, 320) and raw[raw.files[0]].dtype == np.float32
        assert len(list((golden / "expected" / kind / "001").glob("*.png"))) == 80
    raft = shared_path("fixtures/raft-golden")
    state = torch.load(raft / "raft-random-init.pth", map_location="cpu", weights_only=True)
    assert len(state) == 179 and all(k.startswith("module.") for k in state)
    assert float(state["module.cnet.norm1.running_var"].std()) > 0.1  # perturbed, not the default init
    for case, (height, width) in (("sintel", (218, 512)), ("room", (256, 512))):
        flow = np.load(raft / f"{case}_flow.npy")
        assert flow.shape == (height, width, 2) and flow.dtype == np.float32 and np.abs(flow).max() > 0
        assert cv2.imread(str(raft / f"{case}_flow.png")).shape == (height, width, 3)
        assert cv2.imread(str(raft / f"{case}_frame1.png")).shape == (height, width, 3)
