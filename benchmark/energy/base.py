"""The target-energy contract: positions (B, N, 3) in nm to dimensionless energies E/kT (B,)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch


def as_positions(x: torch.Tensor | np.ndarray, n_atoms: int) -> np.ndarray:
    """Positions as a float64 (B, N, 3) numpy array; a single (N, 3) conformation becomes B = 1."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n_atoms, 3):
        raise ValueError(f"positions must have shape (B, {n_atoms}, 3) in nm, got {tuple(arr.shape)}")
    return arr


def batch_size(x: torch.Tensor | np.ndarray, n_atoms: int) -> int:
    """Number of conformations in ``x`` after the same shape check as ``as_positions``, without copying."""
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or shape[1:] != (n_atoms, 3):
        raise ValueError(f"positions must have shape (B, {n_atoms}, 3) in nm, got {shape}")
    return shape[0]


class TargetEnergy(ABC):
    """Reduced potential energy u(x) = U(x)/kT of one system.

    Energies come back as float64 torch tensors of shape (B,), forces as (B, N, 3) in kT/nm.
    A conformation whose energy is not finite gets +inf (and zero forces), never an exception,
    so that a sampler can give it zero weight.
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
        """Plain-data facts a run record stores about this energy: backend, precision, platform or device."""
        return {"backend": type(self).__name__}

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.energy(x)
