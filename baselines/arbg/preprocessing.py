"""Coordinates <-> model sequences (specs/autoregressive.md 1.2-1.5).

Model space: atoms in the residue-by-residue order, coordinates divided by one scalar sigma and
flattened x, y, z per atom (d = 3N). Training frames are centred (geometric centre) before
scaling and augmented with a Haar-random rotation and a CoM shift eps ~ N(0, I/N) per frame.

Density convention: the proposal is x_nm = sigma * x_hat (no centring, no rotation), so
log q(x_nm) = log q_hat(x_nm / sigma) - d log sigma. Centring and rotation are training
augmentation only; they are not part of the density.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def centre(x: torch.Tensor) -> torch.Tensor:
    """Subtract the unweighted mean over atoms of each frame (..., N, 3)."""
    return x - x.mean(dim=-2, keepdim=True)


def fit_sigma(frames: torch.Tensor) -> float:
    """One scalar: Bessel-corrected std of all entries of the centred frames (T, N, 3), nm."""
    return float(torch.std(centre(frames.double())))


def random_rotations(n: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """n Haar-uniform rotation matrices (QR of a Gaussian matrix with sign fix, det +1)."""
    a = torch.randn(n, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    det = torch.linalg.det(q)
    q[:, :, 0] *= det[:, None]  # reflect one axis where needed: still Haar on SO(3)
    return q.to(dtype)


def align_to(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Centre each frame (T, N, 3) and rotate it onto the centred reference (Kabsch, proper rotations)."""
    x = centre(frames.double())
    y = centre(reference.double()[None])
    h = x.transpose(1, 2) @ y  # (T, 3, 3) covariance
    u, _, vt = torch.linalg.svd(h)
    d = torch.sign(torch.linalg.det(u @ vt))
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    rot = u @ fix @ vt  # x @ rot best matches y
    return (x @ rot).to(frames.dtype)


class Standardizer:
    """Maps (.., N, 3) nm in topology order to (.., 3N) model units and back."""

    def __init__(self, permutation: np.ndarray, sigma: float):
        self.perm = torch.as_tensor(np.asarray(permutation), dtype=torch.long)
        self.inverse = torch.argsort(self.perm)
        self.sigma = float(sigma)
        self.n_atoms = len(self.perm)

    @property
    def dim(self) -> int:
        return 3 * self.n_atoms

    def log_abs_det(self) -> float:
        """log |d x_hat / d x_nm| = -d log sigma (add it to a density in model units)."""
        return -self.dim * math.log(self.sigma)

    def to_model(self, x_nm: torch.Tensor) -> torch.Tensor:
        """No centring: the exact map the density is defined through."""
        return (x_nm[..., self.perm.to(x_nm.device), :] / self.sigma).flatten(-2)

    def to_nm(self, x_hat: torch.Tensor) -> torch.Tensor:
        x = x_hat.reshape(*x_hat.shape[:-1], self.n_atoms, 3) * self.sigma
        return x[..., self.inverse.to(x.device), :]

    def training_view(
        self, frames_nm: torch.Tensor, generator: torch.Generator, rotate: bool = True, com_noise: bool = True
    ) -> torch.Tensor:
        """Centre, scale, rotate and CoM-shift a batch of frames (B, N, 3); returns (B, 3N)."""
        x = centre(frames_nm.float()[:, self.perm, :]) / self.sigma
        b = x.shape[0]
        if rotate:
            x = x @ random_rotations(b, generator).transpose(1, 2)
        if com_noise:
            x = x + torch.randn(b, 1, 3, generator=generator) / math.sqrt(self.n_atoms)
        return x.flatten(1)
