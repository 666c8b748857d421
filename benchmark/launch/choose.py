"""Pick an executor by name: ``local`` here, ``slurm`` (submitit) or ``ray`` from the cluster extra.

Apart from executors.py so that the base classes never import the optional back-ends that build on them.
"""

from __future__ import annotations

from benchmark.errors import BgbenchError
from benchmark.launch.executors import Executor, LocalExecutor


def make_executor(name: str, **options) -> Executor:
    """The executor called ``name`` ("local", "slurm" or "ray") with its options."""
    if name == "local":
        return LocalExecutor(workers=options.get("workers") or 1)
    if name not in ("slurm", "ray"):
        raise ValueError(f"Unknown executor {name!r}: local, slurm or ray.")
    try:
        if name == "slurm":
            from benchmark.launch.slurm import SubmititExecutor

            return SubmititExecutor(**options)
        from benchmark.launch.ray_executor import RayExecutor

        return RayExecutor(**options)
    except ImportError as err:
        raise BgbenchError(f"--executor {name} needs {err.name}: pip install -e '.[cluster]'.") from err
    except RuntimeError as err:  # submitit finds no SLURM here
        raise BgbenchError(f"--executor {name}: {err} (--submitit-cluster local runs the same jobs here)") from err


__all__ = ["make_executor"]
