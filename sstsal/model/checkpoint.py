"""Loading SST-Sal weights without executing code from the file, and saving our own format.

The published checkpoints are whole-model pickles (``torch.save(model)`` under torch 1.5)
that name the published modules (``models.SST_Sal``, ``Modules.*``,
``spherenet.sphere_cnn.*``). Unpickling them normally imports those modules and lets the
file call any importable function, so a tampered file could run commands. We unpickle with
an allow-list: tensor rebuilders, ``OrderedDict``/``set``, and inert stand-ins for the
module classes (their state is kept as a plain dict). Anything else is refused by name.

Our own format is a safetensors file of the four tensors plus metadata.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from sstsal.atomic import atomic_file
from sstsal.errors import CheckpointError
from sstsal.model.network import SSTSal

# Classes of the published model and the torch.nn modules it contains: replaced by inert
# stand-ins, because we only want their tensors.
_MODULE_CLASSES = {
    ("models", "SST_Sal"),
    ("Modules", "SpherConvLSTM_EncoderCell"),
    ("Modules", "SpherConvLSTM_DecoderCell"),
    ("Modules", "SpherConvLSTMCell"),
    ("spherenet.sphere_cnn", "SphereConv2D"),
    ("spherenet.sphere_cnn", "SphereMaxPool2D"),
    ("spherenet", "SphereConv2D"),
    ("spherenet", "SphereMaxPool2D"),
    ("torch.nn.modules.conv", "Conv2d"),
    ("torch.nn.modules.pooling", "MaxPool2d"),
    ("torch.nn.modules.upsampling", "Upsample"),
}
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
}

# Published state-dict names -> ours.
PUBLISHED_KEYS = {
    "encoder.lstm.conv.weight": "encoder.weight",
    "encoder.lstm.conv.bias": "encoder.bias",
    "decoder.lstm.conv.weight": "decoder.weight",
    "decoder.lstm.conv.bias": "decoder.bias",
}


class PickledModule:
    """Inert stand-in for a module class named in a checkpoint: holds its state dict."""

    qualified_name = "?"

    def __setstate__(self, state: Any) -> None:
        self.state = state


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals SST-Sal checkpoints need."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if (module, name) in _MODULE_CLASSES:
            return type(name, (PickledModule,), {"qualified_name": f"{module}.{name}"})
        raise CheckpointError(
            f"refused to load {module}.{name}: the checkpoint asks to import something an SST-Sal "
            "checkpoint never needs (it may be tampered with). Use the published files or our .safetensors format"
        )


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


class _RestrictedPickleModule:
    """The ``pickle_module`` interface torch.load expects, with our unpickler.

    Both entry points are restricted: torch reads the header pickles of pre-zip files with
    ``load`` before it ever uses ``Unpickler``.
    """

    Unpickler = RestrictedUnpickler
    load = staticmethod(_restricted_load)
    __name__ = "sstsal.model.checkpoint.restricted_pickle"


def _collect_tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten the module tree of a whole-model pickle into ``name -> tensor``."""
    found: dict[str, torch.Tensor] = {}
    if isinstance(obj, PickledModule):
        state = obj.state if isinstance(obj.state, dict) else {}
        for key in ("_parameters", "_buffers"):
            for name, tensor in (state.get(key) or {}).items():
                if isinstance(tensor, torch.Tensor):
                    found[prefix + name] = tensor.detach()
        for name, child in (state.get("_modules") or {}).items():
            found.update(_collect_tensors(child, f"{prefix}{name}."))
    elif isinstance(obj, dict):
        for name, value in obj.items():
            if isinstance(value, torch.Tensor):
                found[prefix + str(name)] = value.detach()
            elif isinstance(value, (dict, PickledModule)):
                found.update(_collect_tensors(value, f"{prefix}{name}."))
    return found


def read_published_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a published SST-Sal ``.pth`` (whole-model pickle or state dict)."""
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_RestrictedPickleModule, weights_only=False)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"could not read checkpoint {path} ({exc}); download it again with `sstsal download`") from exc
    tensors = _collect_tensors(obj)
    tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return {PUBLISHED_KEYS.get(k, k): v for k, v in tensors.items()}


def model_from_state(state: dict[str, torch.Tensor], source: str = "checkpoint") -> SSTSal:
    """Build an :class:`SSTSal` whose architecture is detected from the tensor shapes."""
    expected = set(PUBLISHED_KEYS.values())
    if set(state) != expected:
        raise CheckpointError(
            f"{source} is not an SST-Sal checkpoint: expected tensors {sorted(expected)}, found {sorted(state)}"
        )
    enc, dec = state["encoder.weight"], state["decoder.weight"]
    if enc.dim() != 4 or enc.shape[2:] != (3, 3) or enc.shape[0] % 4:
        raise CheckpointError(f"{source}: encoder weight has shape {tuple(enc.shape)}, expected (4*hidden, in+hidden, 3, 3)")
    hidden = enc.shape[0] // 4
    channels = enc.shape[1] - hidden
    if channels <= 0 or tuple(dec.shape) != (4, hidden + 1, 3, 3):
        raise CheckpointError(
            f"{source}: tensor shapes {tuple(enc.shape)} and {tuple(dec.shape)} do not form an SST-Sal model "
            f"(decoder weight should be (4, {hidden + 1}, 3, 3))"
        )
    model = SSTSal(input_channels=channels, hidden_channels=hidden)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def load_model(path: str | os.PathLike) -> SSTSal:
    """Load a published ``.pth`` or our ``.safetensors`` checkpoint, safely."""
    path = Path(path)
    if not path.is_file():
        from sstsal.published import models_dir

        raise CheckpointError(
            f"checkpoint {path} does not exist: check the path (`sstsal download` puts the published "
            f"checkpoints in {models_dir()})"
        )
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"could not read {path}: {exc}") from exc
    else:
        state = read_published_state(path)
    return model_from_state(state, source=str(path))


def save_weights(model: SSTSal, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Save ``model`` as a safetensors state dict (atomically)."""
    from safetensors.torch import save_file

    meta = {
        "format": "sstsal",
        "input_channels": str(model.input_channels),
        "hidden_channels": str(model.hidden_channels),
        **(metadata or {}),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_file(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
