"""Which torch device a ``--device`` / ``model.device`` value names, checked before any work."""

from __future__ import annotations

import torch

from sstsal.errors import InputError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (or None) -> the first CUDA device if there is one, else CPU; checks explicit requests.

    A CUDA device must exist here (index included); anything other than CPU or CUDA is refused.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device} was requested but CUDA is not available here: use --device cpu or auto")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InputError(f"device {device} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif resolved.type != "cpu":
        raise InputError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    return resolved
