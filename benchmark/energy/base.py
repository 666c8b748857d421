"""The target-energy contract: positions (B, N, 3) in nm to dimensionless energies E/kT (B,)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch


def batch_size_of(x: torch.Tensor | np.ndarray, n_atoms: int) -> int:
    """B of positions (B, N, 3) or 1 for a single (N, 3) conformation; ValueError for other shapes."""
    shape = tuple(x.shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or shape[1:] != (n_atoms, 3):
        raise ValueError(f"positions must have shape (B, {n_atoms}, 3) in nm, got {tuple(x.shape)}")
    return shape[0]


def as_positions(x: torch.Tensor | np.ndarray, n_atoms: int) -> np.ndarray:
    """Positions as a float64 (B, N, 3) numpy array; a single (N, 3) conformation becomes B = 1."""
    batch_size_of(x, n_atoms)
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.asarray(arr, dtype=np.float64)
    return arr[None] if arr.ndim == 2 else arr


def output_device(x: torch.Tensor | np.ndarray) -> torch.device:
    """Where results go: the device of the input tensor (the CPU for NumPy input)."""
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


class TargetEnergy(ABC):
    """Reduced potential energy u(x) = U(x)/kT of one system.

    Energies come back as float64 torch tensors of shape (B,), forces as (B, N, 3) in kT/nm, on
    the device of the input positions. A conformation whose energy is not finite gets +inf (and
    zero forces), never an exception, so that a sampler can give it zero weight.
    """

    n_atoms: int
    kT_kJ_per_mol: float

    @abstractmethod
    def energy(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """u(x) for a batch of conformations."""

    @abstractmethod
    def energy_and_forces(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """u(x) and -grad u(x) for a batch of conformations."""

    def describe(self) -> dict:
        """What a record says about this energy (backend, precision, platform or device)."""
        return {"backend": type(self).__name__}

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.energy(x)
