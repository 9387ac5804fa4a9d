"""Checkpoint provisioning: local folder first, checksummed download, clear offline errors."""

from __future__ import annotations

import hashlib

import pytest

from sstsal.errors import CheckpointError
from sstsal.model.weights import checkpoint_path, fetch_file
from tests.conftest import shared_path


def test_models_folder_from_environment_is_used_first(monkeypatch, tmp_path):
    monkeypatch.setenv("SSTSAL_MODELS", str(shared_path("models")))
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    assert checkpoint_path("SST_Sal.pth") == shared_path("models/SST_Sal.pth")
    assert not (tmp_path / "cache").exists()


def test_wrong_checksum_in_models_folder_is_refused(monkeypatch, tmp_path):
    (tmp_path / "SST_Sal.pth").write_bytes(b"tampered")
    monkeypatch.setenv("SSTSAL_MODELS", str(tmp_path))
    with pytest.raises(CheckpointError, match="wrong sha256"):
        checkpoint_path("SST_Sal.pth")


def test_fetch_verifies_checksum(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    dest = fetch_file(source.as_uri(), digest, tmp_path / "cache" / "w.bin")
    assert dest.read_bytes() == b"weights"
    with pytest.raises(CheckpointError, match="refused"):
        fetch_file(source.as_uri(), "0" * 64, tmp_path / "cache" / "other.bin")
    assert not (tmp_path / "cache" / "other.bin").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["w.bin"]  # no temporary left behind


def test_offline_error_names_the_file_and_place(monkeypatch, tmp_path):
    monkeypatch.delenv("SSTSAL_MODELS", raising=False)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path))
    import sstsal.model.weights as download

    spec = download.CHECKPOINTS["SST_Sal.pth"]
    monkeypatch.setitem(
        download.CHECKPOINTS, "SST_Sal.pth", download.PublishedFile(spec.name, "http://127.0.0.1:9/SST_Sal.pth", spec.sha256, spec.size)
    )
    with pytest.raises(CheckpointError) as err:
        checkpoint_path("SST_Sal.pth")
    assert str(tmp_path / "models" / "SST_Sal.pth") in str(err.value)
    assert spec.sha256 in str(err.value)


def test_registry_describes_the_published_files():
    from sstsal.hashing import sha256_of
    from sstsal.model.checkpoint import load_model
    from sstsal.model.weights import CHECKPOINTS, SstSalWeights

    assert SstSalWeights.DEFAULT is SstSalWeights.SST_SAL
    assert SstSalWeights.for_flow(True) is SstSalWeights.SST_SAL and SstSalWeights.for_flow(False) is SstSalWeights.SST_SAL_WO_OF
    assert list(CHECKPOINTS) == ["SST_Sal.pth", "SST_Sal_wo_OF.pth"]
    for weights in SstSalWeights:
        path = shared_path("models") / weights.file_name
        assert path.stat().st_size == weights.value.size and sha256_of(path) == weights.value.sha256
        assert load_model(path).input_channels == weights.value.meta["input_channels"] == (6 if weights.uses_flow else 3)
        assert SstSalWeights.from_name(weights.file_name) is weights
    with pytest.raises(CheckpointError, match="unknown checkpoint 'x.pth': known are SST_Sal.pth, SST_Sal_wo_OF.pth"):
        checkpoint_path("x.pth")
