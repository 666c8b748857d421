"""Find a method class by name, folder or installed plugin, importing it only when asked.

Three sources, in this order of precedence:

1. built-in baselines (``BUILTIN_METHODS``: name -> "module:Class"),
2. plugins installed with pip that declare an entry point in the group ``bgbench.methods``,
3. a submission folder (``--method submissions/my_method``) holding ``submission.yaml``, whose
   ``entry`` names "module_file:Class" relative to the folder.

Listing methods reads names and YAML only, so it never imports torch models.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import BgbenchError, UnknownNameError

ENTRY_POINT_GROUP = "bgbench.methods"

BUILTIN_METHODS: dict[str, str] = {
    "md": "baselines.md:MDBaseline",
    "arbg": "baselines.arbg:ARBG",
}

SUBMISSION_FILE = "submission.yaml"
SUBMISSION_KEYS = ("name", "entry", "authors", "description")


class MethodLoadError(BgbenchError):
    """A method that exists but cannot be loaded (bad entry, import error, wrong class)."""


@dataclass(frozen=True)
class MethodSpec:
    """Where a method comes from; ``load()`` imports it."""

    name: str
    source: str  # "builtin", "plugin", "folder" (or "class" when a run is given a class directly)
    target: str  # "module:Class", or the folder path
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def load(self) -> type:
        from benchmark.adapter import Method

        if self.source == "folder":
            cls = _load_from_folder(Path(self.target), self.info)
        elif self.source == "plugin":
            cls = self.info["entry_point"].load()
        else:
            module_name, _, attr = self.target.partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as err:
                raise MethodLoadError(f"Cannot load method {self.name!r} from {self.target}: {err}") from err
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise MethodLoadError(f"{self.target} is not a subclass of benchmark.adapter.Method.")
        return cls


def _plugins() -> dict[str, MethodSpec]:
    out = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        out[ep.name] = MethodSpec(ep.name, "plugin", ep.value, {"entry_point": ep})
    return out


def read_submission(folder: Path) -> dict[str, Any]:
    """Parse and check a submission folder's submission.yaml."""
    path = Path(folder) / SUBMISSION_FILE
    if not path.is_file():
        raise MethodLoadError(f"{folder} has no {SUBMISSION_FILE}; see submissions/example_gaussian for the layout.")
    try:
        info = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise MethodLoadError(f"{path} is not valid YAML: {err}") from err
    missing = [k for k in SUBMISSION_KEYS if k not in info]
    if missing:
        raise MethodLoadError(f"{path} lacks {', '.join(missing)}.")
    if ":" not in str(info["entry"]):
        raise MethodLoadError(f"{path}: entry must look like 'adapter:MyMethod', got {info['entry']!r}.")
    return info


def _load_from_folder(folder: Path, info: dict[str, Any]) -> type:
    module_file, _, attr = str(info["entry"]).partition(":")
    path = (folder / f"{module_file}.py").resolve()
    if not path.is_file():
        raise MethodLoadError(f"{folder}: entry module {module_file}.py not found.")
    module_name = f"bgbench_submission_{folder.resolve().name}_{module_file}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # a submission's import error is the user's to fix
        del sys.modules[module_name]
        raise MethodLoadError(f"Importing {path} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, attr):
        raise MethodLoadError(f"{path} defines no {attr!r}.")
    return getattr(module, attr)


def available_methods() -> dict[str, MethodSpec]:
    """Built-in and plugin methods by name (folders are addressed by path instead)."""
    methods = {name: MethodSpec(name, "builtin", target) for name, target in BUILTIN_METHODS.items()}
    for name, spec in _plugins().items():
        methods.setdefault(name, spec)
    return methods


def find_method(name_or_path: str) -> MethodSpec:
    """Resolve ``--method``: a registered name, or a folder with a submission.yaml."""
    methods = available_methods()
    if name_or_path in methods:
        return methods[name_or_path]
    folder = Path(name_or_path)
    if folder.is_dir():
        info = read_submission(folder)
        return MethodSpec(str(info["name"]), "folder", str(folder), info)
    if "/" in name_or_path or name_or_path.startswith("."):
        raise MethodLoadError(f"Method folder {name_or_path!r} does not exist.")
    raise UnknownNameError("method", name_or_path, methods)
