"""Which PyTorch build `make venv` installs: prints pip's index arguments (stdout) and one line why (stderr).

PyPI's Linux wheels of torch are the CUDA build (several GB of CUDA libraries). On a Linux machine
without an NVIDIA driver (no ``nvidia-smi`` on PATH, no /proc/driver/nvidia) the CPU build from
PyTorch's CPU wheel index is installed instead, when that index answers within a few seconds;
otherwise the default (PyPI) is kept, saying so. ``--torch cpu|cuda`` (make's ``TORCH``) decides
instead of the machine. Only the standard library: it runs before the venv exists.

    python3 tools/torch_wheels.py [--torch auto|cpu|cuda] [--index URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Choice:
    """pip's index arguments for torch and torchvision, and the one line that says why."""

    pip_args: tuple[str, ...]
    reason: str


def has_nvidia_driver(*, driver_path: str = "/proc/driver/nvidia") -> bool:
    """Whether an NVIDIA driver is installed: ``nvidia-smi`` on PATH or the driver's /proc entry."""
    return shutil.which("nvidia-smi") is not None or os.path.exists(driver_path)


def index_reachable(index: str, *, timeout: float = 5.0) -> bool:
    """Whether ``index``'s page for torch answers within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/torch/", timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, TimeoutError, ValueError):
        return False


def choose(torch: str, *, index: str = CPU_INDEX, system: str | None = None, driver: bool | None = None,
           timeout: float = 5.0) -> Choice:  # fmt: skip
    """The build for ``torch`` (auto, cpu or cuda) on this machine (``system``, ``driver``: for tests)."""
    if torch not in CHOICES:
        raise ValueError(f"TORCH={torch!r} is not one of {', '.join(CHOICES)}")
    cpu = ("--index-url", index)
    if torch == "cpu":
        return Choice(cpu, f"torch: the CPU build from {index} (TORCH=cpu)")
    if torch == "cuda":
        return Choice((), "torch: the default build from PyPI (TORCH=cuda)")
    system = platform.system() if system is None else system
    if system != "Linux":
        return Choice((), f"torch: the default build from PyPI (on {system} it has no CUDA libraries)")
    if has_nvidia_driver() if driver is None else driver:
        return Choice((), "torch: the default (CUDA) build from PyPI: an NVIDIA driver is present (TORCH=cpu for the CPU build)")
    if index_reachable(index, timeout=timeout):
        return Choice(cpu, f"torch: the CPU build from {index}: no NVIDIA driver here (TORCH=cuda for the CUDA build)")
    return Choice((), f"torch: no NVIDIA driver here, but {index} did not answer: installing the default (CUDA, "
                      "several GB) build from PyPI; TORCH=cpu insists on the CPU index")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch", default="auto", help="auto (default), cpu or cuda; an empty value is auto")
    parser.add_argument("--index", default=CPU_INDEX, help=f"PyTorch's CPU wheel index (default {CPU_INDEX})")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the index (default 5)")
    args = parser.parse_args(argv)
    try:
        choice = choose(args.torch or "auto", index=args.index, timeout=args.timeout)
    except ValueError as exc:
        print(f"error: {exc}: give TORCH=cpu, TORCH=cuda or leave it unset", file=sys.stderr)
        return 2
    print(choice.reason, file=sys.stderr)
    print(" ".join(choice.pip_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
