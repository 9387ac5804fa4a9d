"""Provenance of a video's results: what made them, with which weights and settings, and when.

Each stage job of the workflow writes a small record next to its outputs
(``results/<video>/provenance/<rule>.json``: start and end time, host, the stage's settings,
the software versions, and facts only the job knows, such as the RAFT weights or the GPU it
used). A stage's record is rewritten only when that stage reruns, so the records keep the
"only changed stages rerun" property; the ``provenance`` rule gathers them into
``results/<video>/provenance.json``, the file a paper's methods section is written from.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from sstsal.hashing import sha256_of
from sstsal.pipeline.atomic import write_text

# The Python distributions whose versions go into every record.
_DISTRIBUTIONS = {
    "torch": "torch",
    "torchvision": "torchvision",
    "snakemake": "snakemake",
    "opencv": "opencv-python-headless",
    "numpy": "numpy",
    "imageio-ffmpeg": "imageio-ffmpeg",
}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds")


@cache
def git_commit() -> dict[str, Any] | None:
    """{'commit', 'dirty'} of the checkout the package runs from, or None (an installed package)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


@cache
def ffmpeg_version() -> str | None:
    """First line of ``ffmpeg -version`` of the binary the package uses (imageio-ffmpeg's)."""
    try:
        import imageio_ffmpeg

        out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-version"], capture_output=True, text=True, timeout=20)
        return out.stdout.splitlines()[0].strip() if out.stdout else None
    except Exception:  # a missing or broken binary: record that there is no version, do not fail the job
        return None


@cache
def software_versions() -> dict[str, Any]:
    """Versions of sstsal (and its git commit when run from a checkout), Python and the libraries."""
    import sstsal

    versions: dict[str, Any] = {"sstsal": sstsal.__version__, "git": git_commit(), "python": platform.python_version()}
    for key, dist in _DISTRIBUTIONS.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = None
    versions["ffmpeg"] = ffmpeg_version()
    return versions


def device_facts(device: str | None) -> dict[str, Any]:
    """The torch device ``device`` resolves to here, with the GPU's name (or the CPU's)."""
    import torch

    from sstsal.devices import resolve_device

    resolved = resolve_device(device)
    facts: dict[str, Any] = {"device": str(resolved)}
    if resolved.type == "cuda":
        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        facts["gpu"] = torch.cuda.get_device_name(index)
        facts["cuda"] = torch.version.cuda
    else:
        facts["cpu"] = platform.processor() or platform.machine()
        facts["cpu_threads"] = torch.get_num_threads()
    return facts


def flow_facts(params: Mapping[str, Any]) -> dict[str, Any]:
    """Engine, weights (with sha256), precision and device of the workflow's flow job."""
    import cv2

    method = params["method"]
    if method == "raft":
        from sstsal.flow.raft import resolve_checkpoint

        source = resolve_checkpoint(params.get("checkpoint") or "auto")
        weights = {"kind": source.kind, "description": source.description, "path": str(source.path)}
        if source.path is not None and source.path.is_file():
            weights["sha256"] = sha256_of(source.path)
        return {"method": method, "engine": "torchvision raft_large", "weights": weights, "precision": "fp32",
                **device_facts(params.get("device"))}  # fmt: skip
    engine = {"dis": "OpenCV DISOpticalFlow, medium preset", "farneback": "OpenCV Farneback"}[method]
    return {"method": method, "engine": f"{engine} (OpenCV {cv2.__version__})", "weights": None, "device": "cpu"}


def inference_facts(params: Mapping[str, Any]) -> dict[str, Any]:
    """The SST-Sal checkpoint (with sha256) and device of the workflow's inference job."""
    from sstsal.model.weights import checkpoint_path

    no_flow = bool(params.get("no_flow"))
    checkpoint = params.get("checkpoint") or checkpoint_path("SST_Sal_wo_OF.pth" if no_flow else "SST_Sal.pth")
    return {"checkpoint": {"path": str(checkpoint), "sha256": sha256_of(checkpoint)}, "with_flow": not no_flow,
            **device_facts(params.get("device"))}  # fmt: skip


def chunk_facts(records: Iterable[str | os.PathLike]) -> dict[str, Any]:
    """The facts of a chunked stage: those of its first chunk job, and where and when each chunk ran."""
    chunks = []
    for path in sorted(records, key=str):
        with open(path, encoding="utf-8") as handle:
            chunks.append(json.load(handle))
    facts = dict(chunks[0]["facts"]) if chunks else {}
    facts["chunks"] = [
        {"chunk": Path(path).stem, **{k: c[k] for k in ("started", "finished", "seconds", "host")},
         "device": c["facts"].get("device"), "gpu": c["facts"].get("gpu")}
        for path, c in zip(sorted(records, key=str), chunks)
    ]  # fmt: skip
    return facts


@dataclass
class StageRecord:
    """What one job did; ``facts`` are filled in by the job while it runs."""

    rule: str
    params: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    started: str = field(default_factory=_now)
    _start: float = field(default_factory=time.monotonic)
    console: Any = None  # where a warning is also shown (the terminal, while stderr is the job's log)

    def warn(self, message: str, *, logged: bool = False) -> None:
        """Record a warning, write it to the job's log (unless ``logged`` already) and show it on
        the console too. A warning already recorded (or contained in one) is not repeated."""
        if any(message in w or w in message for w in self.warnings):
            return
        self.warnings.append(message)
        if not logged:
            print(f"warning: {message}", file=sys.stderr)
        if self.console is not None and self.console is not sys.stderr:
            print(f"warning ({self.rule}): {message}", file=self.console)

    def finish(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "started": self.started,
            "finished": _now(),
            "seconds": round(time.monotonic() - self._start, 3),
            "host": socket.gethostname(),
            "params": _plain(self.params),
            "facts": _plain(self.facts),
            "warnings": self.warnings,
            "software": software_versions(),
        }


def _plain(value: Any) -> Any:
    """JSON-ready copy (Snakemake's lists and paths become lists and strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@contextlib.contextmanager
def recording(path: str | os.PathLike | None, rule: str, params: Mapping[str, Any]) -> Iterator[StageRecord]:
    """Yield the job's record; write it to ``path`` (atomically) when the job succeeds."""
    record = StageRecord(rule, dict(params))
    yield record
    if path is not None:
        write_text(path, json.dumps(record.finish(), indent=2) + "\n")


def gather(records: Iterable[str | os.PathLike], *, video: str, config: Mapping[str, Any],
           source: str | None) -> dict[str, Any]:  # fmt: skip
    """The video's provenance from its stage records (see the module docstring)."""
    stages = {}
    for path in records:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
        stages[record["rule"]] = record
    order = sorted(stages.values(), key=lambda r: r["started"])
    software = next((r["software"] for r in order if r["rule"] in ("inference", "gather_saliency")), None)
    software = software or (order[-1]["software"] if order else software_versions())
    flow = next((r["facts"] for r in order if r["rule"] in ("flow", "gather_flow")), None)
    model = next((r["facts"] for r in order if r["rule"] in ("inference", "gather_saliency")), {})
    checkpoints = []
    if flow and flow.get("weights") and flow["weights"].get("sha256"):
        checkpoints.append({"role": "RAFT", "path": flow["weights"]["path"], "sha256": flow["weights"]["sha256"]})
    if model.get("checkpoint"):
        checkpoints.append({"role": "SST-Sal", **model["checkpoint"]})
    return {
        "video": video,
        "source": source,
        "software": software,
        "software_per_stage": {r["rule"]: r["software"] for r in order if r["software"] != software} or None,
        "checkpoints": checkpoints,
        "flow": {"method_requested": config.get("flow", {}).get("method"), **(flow or {"method": _flow_without_stage(config)})},
        "inference": model,
        "director": next((r["facts"] for r in order if r["rule"] == "director_path"), None),
        "stages": {r["rule"]: {k: r[k] for k in ("started", "finished", "seconds", "host")} for r in order},
        "settings": {r["rule"]: r["params"] for r in order},
        "warnings": [f"{r['rule']}: {w}" for r in order for w in r.get("warnings", [])],
        "config": _plain(config),
    }


def _flow_without_stage(config: Mapping[str, Any]) -> str:
    """What stood in for the flow stage of a video whose flow no job computed."""
    if config.get("flow", {}).get("method") == "none":
        return "none (flow.method: none, the model without flow)"
    given = config.get("inputs", {}).get("flow")
    return f"given (inputs.flow: {given})" if given else "none"


def write_provenance(path: str | os.PathLike, records: Iterable[str | os.PathLike], *, video: str,
                     config: Mapping[str, Any], source: str | None) -> dict[str, Any]:  # fmt: skip
    """Gather the stage records into ``path`` (JSON); returns what was written."""
    data = gather(records, video=video, config=config, source=source)
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data
