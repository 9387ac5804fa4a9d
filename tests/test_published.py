"""Published files: one base URL (SSTSAL_UPSTREAM), one models folder (SSTSAL_MODELS), one cache (SSTSAL_CACHE)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sstsal import published
from sstsal.errors import CheckpointError
from sstsal.flow.raft import find_published_checkpoint, resolve_checkpoint
from sstsal.model.weights import SstSalWeights, checkpoint_path
from tests.conftest import shared_path


def test_github_paths_resolve_under_the_upstream_base(monkeypatch):
    monkeypatch.delenv("SSTSAL_UPSTREAM", raising=False)
    spec = SstSalWeights.SST_SAL.value
    assert spec.resolved_url == (
        "https://github.com/edurnebernal/SST-Sal/raw/dc6a4bae83d5ccd1f305754ffc0a97e3ff5ebbbf/models/SST_Sal.pth"
    )
    monkeypatch.setenv("SSTSAL_UPSTREAM", "file:///mirror/")
    assert spec.resolved_url.startswith("file:///mirror/edurnebernal/SST-Sal/raw/")
    assert published.resolve_url("http://example.org/x.pth") == "http://example.org/x.pth"  # absolute stays


def test_checkpoint_downloads_from_an_upstream_mirror(monkeypatch, tmp_path):
    """A folder in GitHub's URL layout serves the checkpoints (file://), checked by sha256."""
    mirror = tmp_path / "mirror"
    target = mirror / SstSalWeights.SST_SAL_WO_OF.value.url
    target.parent.mkdir(parents=True)
    target.write_bytes(shared_path("models/SST_Sal_wo_OF.pth").read_bytes())
    monkeypatch.delenv("SSTSAL_MODELS", raising=False)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SSTSAL_UPSTREAM", mirror.as_uri())
    path = checkpoint_path("SST_Sal_wo_OF.pth")
    assert path == tmp_path / "cache" / "models" / "SST_Sal_wo_OF.pth"
    assert path.read_bytes() == target.read_bytes()
    # a mirror with other bytes is refused, and nothing is left in the cache
    (mirror / SstSalWeights.SST_SAL.value.url).write_bytes(b"not the checkpoint")
    with pytest.raises(CheckpointError, match="refused"):
        checkpoint_path("SST_Sal.pth")
    assert not (tmp_path / "cache" / "models" / "SST_Sal.pth").exists()


def test_corrupt_cached_checkpoint_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("SSTSAL_MODELS", raising=False)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "SST_Sal.pth").write_bytes(b"tampered")
    with pytest.raises(CheckpointError, match="delete it"):
        checkpoint_path("SST_Sal.pth", download=False)


def test_raft_lookup_honours_the_cache_variable(monkeypatch, tmp_path):
    """raft-sintel.pth is looked up in SSTSAL_MODELS, then in $SSTSAL_CACHE/models (not ~/.cache)."""
    monkeypatch.delenv("SSTSAL_MODELS", raising=False)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path / "cache"))
    assert find_published_checkpoint() is None
    with pytest.raises(CheckpointError, match=str(tmp_path / "cache" / "models" / "raft-sintel.pth")):
        resolve_checkpoint("raft-sintel")
    cached = tmp_path / "cache" / "models" / "raft-sintel.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert find_published_checkpoint() == cached
    models = tmp_path / "models"
    models.mkdir()
    (models / "raft-sintel.pth").write_bytes(b"y")
    monkeypatch.setenv("SSTSAL_MODELS", str(models))
    assert find_published_checkpoint() == models / "raft-sintel.pth"
    assert published.model_dirs() == [models, tmp_path / "cache" / "models"]


def test_ground_floor_imports_point_down():
    """published pulls in neither torch nor a subpackage; the SST-Sal weights never the flow package
    (the circle flow.raft -> flow.raft.weights -> model.weights -> flow.raft is gone)."""
    for module, forbidden in [("sstsal.published", ("torch", "sstsal.model", "sstsal.flow")),
                              ("sstsal.model.weights", ("sstsal.flow",))]:  # fmt: skip
        code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        assert out.strip() == "[]", (module, out)
    source = (published.__file__.rsplit("/", 1)[0] + "/model/weights.py")
    with open(source) as handle:
        assert "sstsal.flow" not in handle.read()


def test_every_downloaded_file_states_its_licence_in_the_code_and_the_docs():
    """The checkpoints, the RAFT weights and the test data each carry their licence, and
    docs/predict.md's licence table names each file with it."""
    import testdata

    from sstsal.flow.raft.weights import RaftWeights
    from sstsal.model.weights import CHECKPOINTS

    files = {name: spec.licence for name, spec in CHECKPOINTS.items()}
    files |= {w.file_name: w.value.licence for w in RaftWeights}
    files |= {spec.name: spec.licence for spec in (testdata.clip_file(), *testdata.loose_files().values())}
    assert len(files) == 6 and all(files.values()), files
    table = (Path(__file__).resolve().parents[1] / "docs" / "predict.md").read_text().split("## Licences")[1]
    rows = {name: line for line in table.splitlines() if line.startswith("| `") for name in re.findall(r"`([^`]+)`", line.split("|")[1])}
    for name, licence in files.items():
        key = "no licence file" if "no licence file" in licence else licence.split(",")[0].split(" (")[0]
        assert key in rows[name], (name, key, rows.get(name))
    assert "MIT" in (Path(__file__).resolve().parents[1] / "LICENSE").read_text().splitlines()[0]


def test_a_download_says_its_licence(monkeypatch, tmp_path, caplog):
    mirror = tmp_path / "mirror"
    spec = SstSalWeights.SST_SAL_WO_OF.value
    (mirror / spec.url).parent.mkdir(parents=True)
    (mirror / spec.url).write_bytes(shared_path("models/SST_Sal_wo_OF.pth").read_bytes())
    monkeypatch.setenv("SSTSAL_UPSTREAM", mirror.as_uri())
    with caplog.at_level("INFO", logger="sstsal.published"):
        published.fetch(spec, tmp_path / "cache" / spec.name)
        published.fetch(spec, tmp_path / "cache" / spec.name)  # already there: nothing downloaded, nothing said
    said = [r.getMessage() for r in caplog.records if r.name == "sstsal.published"]
    assert said == [f"downloading SST_Sal_wo_OF.pth ({spec.licence})"] and "no licence file" in said[0]
