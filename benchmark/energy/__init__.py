"""Target energies (OpenMM reference, batched torch) and the budget wrapper that methods see."""

from __future__ import annotations

from benchmark.energy.base import TargetEnergy
from benchmark.energy.budget import BudgetedEnergy
from benchmark.energy.openmm_energy import OpenMMEnergy, choose_platform
from benchmark.energy.torch_energy import TorchEnergy
from benchmark.errors import BgbenchError

BACKENDS = ("torch", "openmm")


def check_energy_choice(backend: str, precision: str = "float64", device: str = "cpu") -> None:
    """BgbenchError unless ``make_target_energy`` can build this backend, precision and device.

    Cheap (builds nothing), so the runner can refuse a bad choice before any work is done.
    """
    if backend not in BACKENDS:
        raise BgbenchError(f"Unknown energy backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if backend == "torch":
        if precision not in ("float64", "float32"):
            raise BgbenchError(f"Unknown precision {precision!r} for the torch energy; choose float64 or float32.")
        if str(device).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise BgbenchError(f"Energy device {device!r} asked for, but torch sees no CUDA device; use --device cpu.")
    elif precision != "float64" or str(device) != "cpu":
        raise BgbenchError(
            "The openmm energy backend runs on the CPU in OpenMM's own precision (Reference: double); "
            "use backend 'torch' for --energy-precision float32 or a CUDA device."
        )


def make_target_energy(system, backend: str = "torch", *, precision: str = "float64", device: str = "cpu",
                       platform: str = "auto", **options) -> TargetEnergy:
    """The target energy of ``system`` on the chosen backend.

    ``torch``: the batched implementation (``precision`` float64 | float32, ``device`` cpu | cuda,
    extra ``options`` chunk_size, forces, compile); ``platform`` is ignored. ``openmm``: one
    Context, conformation by conformation, on ``platform`` (auto | Reference | CPU; extra option
    threads); it runs on the CPU in OpenMM's own precision, so it accepts only the defaults of
    ``precision`` and ``device``.
    """
    check_energy_choice(backend, precision, device)
    if backend == "torch":
        return TorchEnergy(system, precision=precision, device=device, **options)
    return OpenMMEnergy(system, platform=platform, **options)


__all__ = ["BACKENDS", "BudgetedEnergy", "check_energy_choice", "OpenMMEnergy", "TargetEnergy", "TorchEnergy", "choose_platform", "make_target_energy"]
