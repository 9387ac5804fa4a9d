"""Safe checkpoint import, architecture detection and our safetensors format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from sstsal.errors import CheckpointError
from sstsal.model.checkpoint import load_model, read_published_state, save_weights
from sstsal.model.network import SSTSal
from tests.conftest import shared_path


@pytest.mark.parametrize("name,channels,hidden", [("SST_Sal.pth", 6, 36), ("SST_Sal_wo_OF.pth", 3, 9)])
def test_published_checkpoints_load_with_detected_architecture(name, channels, hidden):
    model = load_model(shared_path(f"models/{name}"))
    assert (model.input_channels, model.hidden_channels) == (channels, hidden)
    state = read_published_state(shared_path(f"models/{name}"))
    assert set(state) == {"encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"}
    assert torch.equal(model.encoder.weight, state["encoder.weight"])


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"encoder.weight": _RunsACommand(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"refused to load (os|posix)\.system"):
        load_model(evil)
    assert not marker.exists()
    # the payload is real: a plain unpickler runs it
    pickle.loads(pickle.dumps(_RunsACommand(marker)))
    assert marker.exists()


def test_malicious_legacy_format_pickle_is_refused(tmp_path):
    # Not a zip archive: torch reads such files with pickle_module.load first.
    marker = tmp_path / "pwned"
    evil = tmp_path / "legacy.pth"
    evil.write_bytes(pickle.dumps(_RunsACommand(marker)))
    with pytest.raises(CheckpointError, match=r"refused to load (os|posix)\.system"):
        load_model(evil)
    assert not marker.exists()


def test_safetensors_round_trip(tmp_path):
    torch.manual_seed(0)
    model = SSTSal(3, 5)
    path = tmp_path / "weights.safetensors"
    save_weights(model, path)
    loaded = load_model(path)
    assert (loaded.input_channels, loaded.hidden_channels) == (3, 5)
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_other_architecture_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file(
        {
            "encoder.weight": torch.zeros(16, 7, 3, 3),
            "encoder.bias": torch.zeros(16),
            "decoder.weight": torch.zeros(4, 9, 3, 3),
            "decoder.bias": torch.zeros(4),
        },
        str(path),
    )
    with pytest.raises(CheckpointError, match="do not form an SST-Sal model"):
        load_model(path)
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "state.pth")
    with pytest.raises(CheckpointError, match="not an SST-Sal checkpoint"):
        load_model(tmp_path / "state.pth")


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        load_model(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pth")
