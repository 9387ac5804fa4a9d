"""Provenance of a video's results: what made them, with which weights and settings, and when.

Each stage job of the workflow writes a small record next to its outputs
(``results/<video>/provenance/<rule>.json``: start and end time, host, the rule's params, the
software versions, and ``facts`` only the job knows). The facts are taken from the objects the
job used, never derived again afterwards: the settings object the stage ran with
(:meth:`StageRecord.used`: the flow's precision, the checkpoint file, ...), the device it
resolved after claiming its GPU (:meth:`StageRecord.ran_on`), the weights it loaded with their
sha256. A job adds any other fact with ``stage.facts[key] = value`` (JSON-ready values).

A stage's record is rewritten only when that stage reruns, so the records keep the "only changed
stages rerun" property; the ``provenance`` rule gathers them, and nothing else, into
``results/<video>/provenance.json``, the file a paper's methods section is written from.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from sstsal.atomic import write_text
from sstsal.hashing import sha256_of

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


def device_facts(device: Any) -> dict[str, Any]:
    """Facts of a resolved torch ``device`` (see :func:`sstsal.devices.resolve_device`): the GPU's
    name and CUDA version, or the CPU and torch's threads. Nothing is resolved here."""
    import torch

    device = torch.device(device)
    facts: dict[str, Any] = {"device": str(device)}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        facts["gpu"] = torch.cuda.get_device_name(index)
        facts["cuda"] = torch.version.cuda
    else:
        facts["cpu"] = platform.processor() or platform.machine()
        facts["cpu_threads"] = torch.get_num_threads()
    return facts


def file_facts(path: str | os.PathLike) -> dict[str, Any]:
    """A file a stage loaded: its path and sha256."""
    return {"path": str(path), "sha256": sha256_of(path)}


def settings_facts(settings: Any) -> dict[str, Any]:
    """A settings dataclass (FlowSettings, InferenceSettings, ...) as the fields it ran with."""
    return {"kind": type(settings).__name__, **_plain(dataclasses.asdict(settings))}


def chunk_facts(records: Iterable[str | os.PathLike]) -> dict[str, Any]:
    """The facts of a chunked stage: those of its first chunk job, and where and when each chunk ran."""
    chunks = []
    for path in sorted(records, key=str):
        with open(path, encoding="utf-8") as handle:
            chunks.append(json.load(handle))
    facts = dict(chunks[0]["facts"]) if chunks else {}
    facts["chunks"] = [
        {"chunk": Path(path).stem, **{k: c[k] for k in ("started", "finished", "seconds", "host")},
         "device": c["facts"].get("device"), "gpu": c["facts"].get("gpu"), "warnings": c.get("warnings", [])}
        for path, c in zip(sorted(records, key=str), chunks)
    ]  # fmt: skip
    return facts


@dataclass
class StageRecord:
    """What one job did; ``facts`` are filled in by the job while it runs.

    requested_device: the job's device setting (auto, cpu, cuda, cuda:N); :attr:`device` is what
    it resolves to, once per job, after the job has claimed its GPU.
    """

    rule: str
    params: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    started: str = field(default_factory=_now)
    _start: float = field(default_factory=time.monotonic)
    console: Any = None  # where a warning is also shown (the terminal, while stderr is the job's log)
    requested_device: str = "cpu"
    _device: Any = None

    @property
    def device(self) -> Any:
        """The job's torch device, resolved from :attr:`requested_device` on first use (and then
        kept): ``cuda`` becomes ``cuda:N``, the GPU the job holds."""
        if self._device is None:
            import torch

            from sstsal.devices import resolve_device

            device = resolve_device(self.requested_device)
            if device.type == "cuda" and device.index is None:
                device = torch.device("cuda", torch.cuda.current_device())
            self._device = device
        return self._device

    def used(self, settings: Any) -> Any:
        """Record the settings object the stage runs with (under ``facts["settings"]``); returns it."""
        self.facts["settings"] = settings_facts(settings)
        return settings

    def ran_on(self, device: Any) -> None:
        """Record the device the stage computed on (its name, the GPU's or the CPU's)."""
        self.facts.update(device_facts(device))

    def warn(self, message: str, *, logged: bool = False) -> None:
        """Record a warning, write it to the job's log (unless ``logged`` already) and show it on
        the console too. A warning already recorded is not repeated; one the package logged with
        more words around it (``<folder>: <message>``) gives way to the job's own wording."""
        for index, known in enumerate(self.warnings):
            if message in known:
                self.warnings[index] = message
                return
            if known in message:
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
def recording(
    path: str | os.PathLike | None, rule: str, params: Mapping[str, Any], *, device: str = "cpu"
) -> Iterator[StageRecord]:
    """Yield the job's record; write it to ``path`` (atomically) when the job succeeds."""
    record = StageRecord(rule, dict(params), requested_device=str(device))
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
    if flow is not None:
        # method and precision as the flow ran (its settings object), the rest as recorded
        used = flow.get("settings", {})
        flow = {"method": used.get("method"), "precision": used.get("precision") if used.get("method") == "raft" else None,
                **flow}  # fmt: skip
    warnings = [f"{r['rule']}: {w}" for r in order for w in r.get("warnings", [])]
    # a chunk's warning that its gather job repeats for the whole video is said once, by the gather
    warnings += [f"{r['rule']} {c['chunk']}: {w}" for r in order for c in r["facts"].get("chunks", [])
                 for w in c.get("warnings", []) if not any(g in w for g in r.get("warnings", []))]  # fmt: skip
    return {
        "video": video,
        "source": source,
        "software": software,
        "software_per_stage": {r["rule"]: r["software"] for r in order if r["software"] != software} or None,
        "checkpoints": checkpoints,
        "flow": {"method_requested": config.get("flow", {}).get("method"), **(flow or {"method": _flow_without_stage(config)})},
        "inference": model,
        "director": next((r["facts"] for r in order if r["rule"] == "director_path"), None),
        "footage": next((r["facts"] for r in order if r["rule"] == "probe"), None),  # 360 layout, metadata
        "stages": {r["rule"]: {k: r[k] for k in ("started", "finished", "seconds", "host")} for r in order},
        "settings": {r["rule"]: r["params"] for r in order},
        "warnings": warnings,
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
