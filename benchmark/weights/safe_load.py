"""Read a state dict from a checkpoint file without ever running code from the file.

Three container kinds reach bgbench:

* ``.safetensors``: a tensor table; read with safetensors (no pickle at all).
* plain ``torch.save`` state dicts (``.pth``/``.pt``): ``torch.load(weights_only=True)``.
* PyTorch Lightning ``.ckpt`` files: a dict whose ``state_dict`` holds the tensors, but whose
  ``hyper_parameters`` pickle the training code's own classes (the network module, optimizer
  partials). ``weights_only`` refuses those. ``InertUnpickler`` reads them anyway: every global that
  is not a tensor-rebuild function or a plain container is replaced by an inert placeholder class
  that records its arguments and never calls anything, so a hostile file cannot execute code; the
  placeholders are then dropped and only ``state_dict`` is kept.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from benchmark.weights.store import WeightsError

#: Globals a checkpoint may really call: torch's tensor/storage rebuilders and plain containers.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}
_STORAGE_NAMES = {n for n in dir(torch) if n.endswith("Storage")}


class Inert:
    """Stands in for any class or function a checkpoint names but bgbench does not trust."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> "Inert":
        return Inert(*args, **kwargs)


def _inert_type(module: str, name: str) -> type:
    return type(f"Inert[{module}.{name}]", (Inert,), {"__module__": "benchmark.weights.safe_load"})


class InertUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` returns real objects only for the allow-list above."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_NAMES:
            return getattr(torch, name)
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return torch._tensor._rebuild_from_type_v2
        if module == "torch" and name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool", "uint8"):
            return getattr(torch, name)
        return _inert_type(module, name)


class _InertPickleModule:
    """What ``torch.load(pickle_module=...)`` needs: an ``Unpickler`` and ``load``."""

    Unpickler = InertUnpickler
    __name__ = "benchmark.weights.safe_load"

    @staticmethod
    def load(fh: Any, **kwargs: Any) -> Any:
        return InertUnpickler(fh, **kwargs).load()


def _tensor_dict(obj: Any, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict):
        raise WeightsError(f"{where} does not hold a state dict (found {type(obj).__name__}).")
    out = {}
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            out[str(k)] = v
    if not out:
        raise WeightsError(f"{where} holds no tensors.")
    return out


def load_state_dict(path: Path, container_key: str | None = "auto") -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file as ``{key: tensor}`` on the CPU, never executing its code.

    ``container_key``: where the state dict sits inside the file's top-level dict ("state_dict" for
    Lightning checkpoints); "auto" takes ``state_dict`` when present, else the top level; None
    takes the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Checkpoint {path} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not zipfile.is_zipfile(path):
            raise WeightsError(f"{path} is not a torch zip checkpoint; bgbench reads only zip-format torch files.")
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_InertPickleModule)
    if container_key == "auto":
        container_key = "state_dict" if isinstance(obj, dict) and "state_dict" in obj else None
    if container_key is not None:
        if not isinstance(obj, dict) or container_key not in obj:
            raise WeightsError(f"{path} has no {container_key!r} entry.")
        obj = obj[container_key]
    return _tensor_dict(obj, str(path))


__all__ = ["Inert", "InertUnpickler", "load_state_dict"]
