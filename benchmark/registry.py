"""Find a method class by name, folder or installed plugin, importing it only when asked.

Three sources, in this order of precedence:

1. built-in baselines (``BUILTIN_METHODS``: name -> where the class lives, family, tasks, GPU), and
   recipes (``RECIPES``: a name for a built-in method run with a fixed harness sampler and settings,
   e.g. ``sbg`` = TarFlow + SMC),
2. plugins installed with pip that declare an entry point in the group ``bgbench.methods``,
3. a submission folder (``--method submissions/my_method``, or its yaml ``name`` for folders under
   ./submissions) holding ``submission.yaml``, whose ``entry`` names "module_file:Class" relative
   to the folder; the yaml ``name`` must equal the class's ``name``.

Names are matched without regard to case; records and files always use the canonical name.

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
from benchmark.names import RULE, is_safe_name

ENTRY_POINT_GROUP = "bgbench.methods"

@dataclass(frozen=True)
class Builtin:
    """A built-in method: where its class lives and what ``bgbench methods`` says about it.

    The facts repeat the class attributes so that listing never imports a model (and a test checks
    that they agree with the classes).
    """

    target: str  # "module:Class"
    family: str
    applies_to: str  # "single-system", "transferable" or "all"
    requires_gpu: bool = False


BUILTIN_METHODS: dict[str, Builtin] = {
    "md": Builtin("baselines.md:MDBaseline", "molecular dynamics", "all"),
    "arbg": Builtin("baselines.arbg:ARBG", "autoregressive", "single-system"),
    "givt": Builtin("baselines.ar_heads:GIVT", "autoregressive", "single-system"),
    "mol-pixelcnn": Builtin("baselines.ar_heads:MoLPixelCNN", "autoregressive", "single-system"),
    "gmm-pixelcnn": Builtin("baselines.ar_heads:GMMPixelCNN", "autoregressive", "single-system"),
    "robin": Builtin("baselines.robin:Robin", "autoregressive", "transferable"),
    "tarflow": Builtin("baselines.tarflow:TarFlow", "normalizing flow", "single-system"),
    "ecnf": Builtin("baselines.ecnf:ECNF", "continuous normalizing flow", "single-system"),
    "ecnf-transferable": Builtin("baselines.ecnf:ECNFTransferable", "continuous normalizing flow", "transferable"),
    "prose": Builtin("baselines.prose:Prose", "normalizing flow", "transferable"),
    "tarflow-transferable": Builtin("baselines.prose:TransferableTarFlow", "normalizing flow", "transferable"),
}


@dataclass(frozen=True)
class Recipe:
    """A registered name for a built-in proposal method run with a fixed harness sampler and settings.

    Why: a published method is often a model plus an inference procedure (SBG = TarFlow + annealed
    SMC). Under its own name it gets its own records, pinned bands and leaderboard rows, while the
    model, its config and its trained weights stay those of ``method`` (one model, two ways of
    sampling it). The runner takes the sampler and options from the recipe and writes the recipe
    whole into the record; ``--sampler`` may only repeat the recipe's sampler, and
    ``--sampler-option`` adds to (or overrides) its options.
    """

    method: str  # a key of BUILTIN_METHODS
    sampler: str  # a harness sampler (benchmark.sampling.PRESETS)
    sampler_options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self, name: str) -> dict[str, Any]:
        return {"name": name, "method": self.method, "sampler": self.sampler,
                "sampler_options": dict(self.sampler_options), "description": self.description}


RECIPES: dict[str, Recipe] = {
    "sbg": Recipe("tarflow", "smc", {}, "Sequential Boltzmann generator (SBG): TarFlow proposals, annealed Langevin "
                  "SMC with Jarzynski weights; on a single-system task the harness SMC applies SBG's published "
                  "per-system settings (benchmark/sampling/sbg.py)"),
}
SUBMISSIONS_DIR = Path("submissions")

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
            if isinstance(cls, type) and getattr(cls, "name", None) != self.name:
                raise MethodLoadError(
                    f"{Path(self.target) / SUBMISSION_FILE} names the method {self.name!r}, but its class "
                    f"{cls.__name__} says name = {getattr(cls, 'name', None)!r}. Make them equal: the name is how "
                    "records, files and leaderboard rows are told apart.")
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
    if not is_safe_name(info["name"]):
        raise MethodLoadError(f"{path}: the submission's name must be {RULE}, got {info['name']!r}.")
    if info.get("track", "closed") not in ("closed", "open"):
        raise MethodLoadError(f"{path}: track must be 'closed' (the task's training data and budget only) or "
                              f"'open' (anything, disclosed), got {info.get('track')!r}.")
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


def _submission_folders(root: Path = SUBMISSIONS_DIR) -> dict[str, MethodSpec]:
    """Submission folders under ``./submissions`` by their yaml name (unreadable ones are skipped)."""
    out: dict[str, MethodSpec] = {}
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if (p / SUBMISSION_FILE).is_file()):
        try:
            info = read_submission(folder)
        except MethodLoadError:
            continue
        out.setdefault(str(info["name"]), MethodSpec(str(info["name"]), "folder", str(folder), info))
    return out


def available_methods(include_folders: bool = False) -> dict[str, MethodSpec]:
    """Built-in and plugin methods by name, and (if asked) the submission folders under ./submissions."""
    methods = {name: MethodSpec(name, "builtin", b.target, {"builtin": b}) for name, b in BUILTIN_METHODS.items()}
    for name, recipe in RECIPES.items():
        base = BUILTIN_METHODS[recipe.method]
        methods[name] = MethodSpec(name, "recipe", base.target, {"builtin": base, "recipe": recipe.to_dict(name)})
    for name, spec in _plugins().items():
        methods.setdefault(name, spec)
    if include_folders:
        for name, spec in _submission_folders().items():
            methods.setdefault(name, spec)
    return methods


def find_method(name_or_path: str) -> MethodSpec:
    """Resolve ``--method``: a name as ``bgbench methods`` lists it (any case), or a submission folder."""
    folder = Path(name_or_path)
    if folder.is_dir() and (folder / SUBMISSION_FILE).is_file():
        info = read_submission(folder)
        return MethodSpec(str(info["name"]), "folder", str(folder), info)
    methods = available_methods(include_folders=True)
    by_lower = {name.lower(): spec for name, spec in methods.items()}
    if name_or_path.lower() in by_lower:
        return by_lower[name_or_path.lower()]
    if folder.is_dir():
        read_submission(folder)  # raises with what is missing
    if "/" in name_or_path or name_or_path.startswith("."):
        raise MethodLoadError(f"Method folder {name_or_path!r} does not exist.")
    raise UnknownNameError("method", name_or_path, methods)
