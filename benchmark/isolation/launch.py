"""How a method process is started: its training-data view, its environment, and (sandbox) bubblewrap.

The training view is a data folder that holds, for each system of the run, the manifest and the
train split of the tier, and for transferable tasks the training corpus: never a test or
validation file. ``RunContext.training_positions`` works on it unchanged (it reads the manifest
and hash-checks the train file), while ``load_reference`` finds no test split there and fails.

* ``process``: the view is a temporary folder of symbolic links, the method process's
  ``BGBENCH_DATA`` and ``ctx.data_dir``. It keeps a method from reading the evaluation data by
  accident or through the harness's own API; it does not hide the real files from code that goes
  looking for them (the links name them), which is what ``sandbox`` is for.
* ``sandbox``: bubblewrap mounts the system and the Python installation read-only, the bgbench
  code and the submission read-only, the view's files read-only, the method's scratch folder and
  its own weights folder read-write, and nothing else: no network, no other process, no data folder,
  results folder or weights store beyond the method's own entries.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import benchmark
from benchmark.errors import BgbenchError

#: Where the sandbox shows the training view.
SANDBOX_DATA = "/bgbench/data"
#: The few files of /etc that Python, OpenMM and torch read (not all of /etc: it holds the machine's secrets).
SANDBOX_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/passwd",
               "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/os-release")
#: Environment variables a sandboxed method keeps (everything else, tokens included, is dropped).
SANDBOX_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "OMP_WAIT_POLICY", "PYTHONHASHSEED", "TQDM_DISABLE")


class SandboxUnavailable(BgbenchError):
    """``--isolation sandbox`` was asked for where bubblewrap cannot run."""


@dataclass
class TrainingView:
    """The training files of a run: (real path, path inside the view) pairs, plus folders shown in place."""

    entries: list[tuple[Path, str]] = field(default_factory=list)
    in_place: list[Path] = field(default_factory=list)  # e.g. published training shards named by absolute path

    def materialize(self, folder: Path) -> Path:
        """Symbolic links under ``folder`` (the ``process`` view); returns ``folder``."""
        for real, rel in self.entries:
            link = folder / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(real)
        return folder

    def bwrap_args(self, mount: str = SANDBOX_DATA) -> list[str]:
        args = []
        for real, rel in self.entries:
            args += ["--ro-bind", str(real), f"{mount}/{rel}"]
        for path in self.in_place:
            args += ["--ro-bind", str(path), str(path)]
        return args


def training_view(task, tier: str, systems, data_dir: Path | None) -> TrainingView:
    """The view of ``systems``' training data in ``tier`` (systems without data are left out: the run reports them)."""
    from benchmark.data import store
    from benchmark.paths import data_dir as default_data_dir

    root = Path(data_dir) if data_dir is not None else default_data_dir()
    view = TrainingView()
    for spec in systems:
        folder = store.system_dir(task.name, tier, spec.name, root)
        manifest = store.read_manifest(folder)
        if manifest is None:
            continue
        rel = f"{task.name}/{tier}/{spec.name}"
        view.entries.append((folder / store.MANIFEST, f"{rel}/{store.MANIFEST}"))
        train = manifest.get("roles", {}).get("train")
        if isinstance(train, str) and (folder / train).is_file():
            view.entries.append(((folder / train).resolve(), f"{rel}/{train}"))
    if task.transferable:
        corpus = root / "corpus" / tier
        if corpus.is_dir():
            view.entries.append((corpus.resolve(), f"corpus/{tier}"))
            manifest = store.read_manifest(corpus) or {}
            if isinstance(manifest.get("shard_dir"), str) and Path(manifest["shard_dir"]).is_dir():
                view.in_place.append(Path(manifest["shard_dir"]).resolve())
    return view


def code_root() -> Path:
    """The folder that holds the ``benchmark`` package the harness runs (the method process runs the same)."""
    return Path(benchmark.__file__).resolve().parent.parent


@dataclass
class Launch:
    """Everything needed to start (and restart) the method process of one run."""

    level: str  # "process" or "sandbox"
    view: TrainingView
    scratch: Path  # the method's working folder (read-write)
    weights_root: Path  # the harness's weights store root
    weights_own: Path  # the method's own entries (read-write in the sandbox)
    submission: Path | None = None  # a submission folder (read-only in the sandbox)
    _view_dir: Path | None = None

    def data_dir(self) -> Path:
        """The training view as the method process sees it."""
        if self.level == "sandbox":
            return Path(SANDBOX_DATA)
        if self._view_dir is None:
            self._view_dir = self.view.materialize(Path(tempfile.mkdtemp(prefix="bgbench-view-")))
        return self._view_dir

    def cleanup(self) -> None:
        if self._view_dir is not None:
            shutil.rmtree(self._view_dir, ignore_errors=True)
            self._view_dir = None

    def env(self) -> dict[str, str]:
        base = dict(os.environ) if self.level == "process" else {k: os.environ[k] for k in SANDBOX_ENV_KEEP if k in os.environ}
        path = [str(code_root())] + ([os.environ["PYTHONPATH"]] if self.level == "process" and os.environ.get("PYTHONPATH") else [])
        base.update({"PYTHONPATH": os.pathsep.join(path), "BGBENCH_DATA": str(self.data_dir()),
                     "BGBENCH_WORK": str(self.scratch / ".bgbench-work"), "PYTHONNOUSERSITE": "1"})
        if self.level == "sandbox":
            base.update({"HOME": str(self.scratch), "TMPDIR": "/tmp"})
        return base

    def argv_prefix(self) -> list[str]:
        """The command before ``-m benchmark.isolation.child ...``."""
        if self.level == "process":
            return [sys.executable]
        return [*bwrap_command(self), sys.executable]


def _python_dirs() -> list[Path]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    dirs.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(Path(d) for d in dirs if Path(d).is_dir())


def bwrap_binary() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable("--isolation sandbox needs bubblewrap: install it (Debian: apt-get install bubblewrap) "
                                 "or run with --isolation process.")
    return path


def bwrap_command(launch: Launch) -> list[str]:
    """bubblewrap arguments: read-only system and code, the view, scratch and own weights, no network."""
    args = [bwrap_binary(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.lexists(path):
            args += ["--ro-bind", path, path]
    for path in SANDBOX_ETC:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind-try", "/sys/devices/system/cpu",
             "/sys/devices/system/cpu"]
    for path in _python_dirs():
        args += ["--ro-bind", str(path), str(path)]
    root = code_root()
    for package in ("benchmark", "baselines"):
        if (root / package).is_dir():
            args += ["--ro-bind", str(root / package), str(root / package)]
    if launch.submission is not None:
        args += ["--ro-bind", str(launch.submission), str(launch.submission)]
    args += launch.view.bwrap_args()
    for path in (launch.scratch, launch.weights_own):
        path.mkdir(parents=True, exist_ok=True)
        args += ["--bind", str(path), str(path)]
    published = launch.weights_root / "published"
    if published.is_dir():
        args += ["--ro-bind", str(published), str(published)]
    for key, value in launch.env().items():
        args += ["--setenv", key, value]
    args += ["--chdir", str(launch.scratch)]
    return args


__all__ = ["Launch", "SANDBOX_DATA", "SandboxUnavailable", "TrainingView", "bwrap_command", "code_root", "training_view"]
