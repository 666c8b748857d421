"""Coordinates <-> model inputs: centring, one scalar standardization with its Jacobian, Haar rotations,
CoM noise, Kabsch alignment, and padding of variable-length peptides.

Conventions (specs/autoregressive.md 1.2-1.5, flows-and-protocol.md 4.6): positions (..., N, 3) in
nm; "centre" is the unweighted mean over (real) atoms; standardized units are nm / sigma with one
scalar sigma; training augmentation is standardize -> Haar rotation per frame -> CoM shift
eps ~ N(0, I/N) shared by the atoms of a frame. Atom orderings are ``System.orderings``
(benchmark.systems.orderings); a permutation ``perm`` means token k is atom ``perm[k]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def centre(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Subtract the mean over atoms of each frame (..., N, 3); with a mask (..., N), over real atoms only
    (padding stays where it is, normally 0)."""
    if mask is None:
        return x - x.mean(dim=-2, keepdim=True)
    m = mask[..., None].to(x.dtype)
    mean = (x * m).sum(-2, keepdim=True) / m.sum(-2, keepdim=True).clamp_min(1)
    return (x - mean) * m + x * (1 - m)


def fit_sigma(frames: torch.Tensor | Sequence[torch.Tensor | np.ndarray]) -> float:
    """One scalar (nm): Bessel-corrected std of every entry of the centred frames, pooled.

    ``frames`` is one array (T, N, 3) (a single system) or a list of them (a corpus of peptides).
    """
    if isinstance(frames, torch.Tensor):
        return float(torch.std(centre(frames.double())))
    pooled = torch.cat([centre(torch.as_tensor(f).double()).flatten() for f in frames])
    return float(torch.std(pooled))


def random_rotations(n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n Haar-uniform rotation matrices (QR of a Gaussian matrix with sign fix, det +1)."""
    a = torch.randn(n, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    det = torch.linalg.det(q)
    q[:, :, 0] *= det[:, None]  # reflect one axis where needed: still Haar on SO(3)
    return q.to(dtype)


def com_noise(n: int, n_atoms: int | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, 3) CoM shifts eps ~ N(0, I/N) in standardized units; ``n_atoms`` an int or per frame (n,)."""
    eps = torch.randn(n, 1, 3, generator=generator)
    if isinstance(n_atoms, torch.Tensor):
        return eps / n_atoms.to(eps.dtype).sqrt()[:, None, None]
    return eps / math.sqrt(n_atoms)


def augment(x: torch.Tensor, generator: torch.Generator, rotate: bool = True, add_com_noise: bool = True,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate each centred, standardized frame (B, N, 3) by a Haar rotation, then shift it by CoM noise.

    Random numbers are drawn in this order (rotations, then CoM noise) whatever the mask, so a
    padded and an unpadded batch of the same frames get the same augmentation.
    """
    b = x.shape[0]
    if rotate:
        x = x @ random_rotations(b, generator).transpose(1, 2)
    if add_com_noise:
        if mask is None:
            x = x + com_noise(b, x.shape[-2], generator)
        else:
            m = mask[..., None].to(x.dtype)
            x = x + com_noise(b, mask.sum(-1), generator) * m
    return x


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
    """Maps (.., N, 3) nm in topology order to (.., 3N) model units (tokens in ``permutation`` order) and back.

    The map is x_hat = x[perm] / sigma with no centring, so a density over x_hat becomes one over
    nm by adding ``log_abs_det()`` = -3N log sigma. Centring and rotation are training augmentation.
    """

    def __init__(self, permutation: np.ndarray | Sequence[int], sigma: float):
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

    def training_view(self, frames_nm: torch.Tensor, generator: torch.Generator, rotate: bool = True,
                      com_noise: bool = True) -> torch.Tensor:
        """Permute, centre, scale, rotate and CoM-shift a batch of frames (B, N, 3); returns (B, 3N)."""
        x = centre(frames_nm.float()[:, self.perm, :]) / self.sigma
        return augment(x, generator, rotate, com_noise).flatten(1)


# --- padding of variable-length peptides -----------------------------------------------------------
ENCODING_FIELDS = ("atom_type", "aa_type", "aa_pos", "atom_index")


def pad_positions(frames: Sequence[torch.Tensor | np.ndarray], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad conformations (N_i, 3) to (B, L, 3) float32 with a mask (B, L), True on real atoms.

    ``length`` None pads to the longest; a shorter ``length`` than a conformation is an error.
    """
    sizes = [len(f) for f in frames]
    length = max(sizes) if length is None else int(length)
    if max(sizes) > length:
        raise ValueError(f"a conformation has {max(sizes)} atoms, more than the padded length {length}")
    x = torch.zeros(len(frames), length, 3)
    mask = torch.zeros(len(frames), length, dtype=torch.bool)
    for i, f in enumerate(frames):
        x[i, : sizes[i]] = torch.as_tensor(f, dtype=torch.float32)
        mask[i, : sizes[i]] = True
    return x, mask


def pad_encodings(encodings: Sequence[object], length: int) -> dict[str, torch.Tensor]:
    """Per-atom encodings (``benchmark.systems.encodings.AtomEncodings``-like) zero-padded to (B, L) int64,
    plus ``seq_len`` (B,), which is one value per peptide and never padded."""
    out = {name: torch.zeros(len(encodings), length, dtype=torch.long) for name in ENCODING_FIELDS}
    for i, enc in enumerate(encodings):
        for name in ENCODING_FIELDS:
            v = torch.as_tensor(np.asarray(getattr(enc, name)), dtype=torch.long)
            out[name][i, : len(v)] = v
    out["seq_len"] = torch.tensor([int(getattr(e, "seq_len")) for e in encodings], dtype=torch.long)
    return out


def pad_permutation(perm: np.ndarray | Sequence[int], length: int) -> np.ndarray:
    """Extend a permutation of N atoms to ``length`` tokens: padding tokens N .. L-1 stay at the end in
    place (spec flows 4.4: append max(perm)+1, ...)."""
    perm = np.asarray(perm, dtype=np.int64)
    return np.concatenate([perm, np.arange(perm.max() + 1, perm.max() + 1 + length - len(perm), dtype=np.int64)])


__all__ = [
    "ENCODING_FIELDS", "Standardizer", "align_to", "augment", "centre", "com_noise", "fit_sigma", "pad_encodings",
    "pad_permutation", "pad_positions", "random_rotations",
]
