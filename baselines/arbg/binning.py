"""Uniform binning of standardized coordinates and the exact density of de-quantized samples.

Bin-index convention (specs/autoregressive.md 2.2, the one the published weights were trained
on): clip to [lo, hi], then ``b = round((x - lo) / (hi - lo) * (B - 1))`` (round half to even).
Bin centres lie on a grid of B points including both ends, spacing ``s = (hi - lo) / (B - 1)``.

De-quantization (spec 2.3):

* ``"uniform"`` (default): x = c_b + u, u ~ U(-w/2, w/2). With ``width="grid"`` (default) w = s,
  so the bins tile [lo - s/2, hi + s/2] exactly and the density
  ``log q(x) = sum_j [log pi(b_j | b_<j) - log s]`` is exact for *every* x (-inf outside the box).
  ``width="range"`` uses the reference code's w = (hi - lo) / B (slightly narrower than s): the
  density is exact for the samples, but a point in the thin gaps between bins has density 0.
* ``"centre"``: x = c_b. The proposal is then discrete; the categorical mass is used as its
  "density", so SNIS targets a discretized Boltzmann distribution: NOT an exact density.
* ``"empirical"``: x = c_b + an offset drawn from the offsets seen in the training data in that
  bin. The within-bin density is not uniform, so the reported log q is approximate.

Values beyond [lo, hi] are clipped into the edge bins, truncating the target to the box;
``clip_census`` counts how many training coordinates that affects (reported in the record).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

DEQUANT_MODES = ("uniform", "centre", "empirical")
WIDTH_MODES = ("grid", "range")


class UniformBinning:
    """B equally spaced bins over [lo, hi] in standardized units."""

    def __init__(self, num_bins: int, lo: float = -3.0, hi: float = 3.0, width: str = "grid"):
        if num_bins < 2 or not hi > lo:
            raise ValueError("need num_bins >= 2 and hi > lo")
        if width not in WIDTH_MODES:
            raise ValueError(f"width must be one of {WIDTH_MODES}, not {width!r}")
        self.num_bins, self.lo, self.hi, self.width_mode = int(num_bins), float(lo), float(hi), width

    @property
    def spacing(self) -> float:
        """Distance between neighbouring bin centres, s = (hi - lo) / (B - 1)."""
        return (self.hi - self.lo) / (self.num_bins - 1)

    @property
    def noise_width(self) -> float:
        """Width w of the uniform de-quantization noise (and of each bin's support)."""
        return self.spacing if self.width_mode == "grid" else (self.hi - self.lo) / self.num_bins

    @property
    def log_width(self) -> float:
        return math.log(self.noise_width)

    def to_index(self, x: torch.Tensor) -> torch.Tensor:
        """Bin index of each value (int64), reference rounding convention."""
        t = (x.clamp(self.lo, self.hi) - self.lo) / (self.hi - self.lo) * (self.num_bins - 1)
        return torch.round(t).long()

    def clipped(self, x: torch.Tensor) -> torch.Tensor:
        """True where a value lies beyond [lo, hi] and ``to_index`` clips it into an edge bin."""
        return (x < self.lo) | (x > self.hi)

    def centres(self, b: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.lo + b.to(dtype) * self.spacing

    def in_support(self, x: torch.Tensor) -> torch.Tensor:
        """True where x lies in the support of its bin under uniform de-quantization.

        A tolerance of 1e-4 bin widths absorbs float32 rounding at bin edges.
        """
        half = self.noise_width / 2 * (1 + 1e-4)
        if self.width_mode == "grid":  # bins tile the box: only the box edges matter
            return (x >= self.lo - half) & (x <= self.hi + half)
        b = self.to_index(x)
        return (x - self.centres(b, x.dtype)).abs() <= half

    def dequantize(
        self,
        b: torch.Tensor,
        mode: str = "uniform",
        generator: torch.Generator | None = None,
        offsets: "EmpiricalOffsets | None" = None,
    ) -> torch.Tensor:
        """Continuous values (float32) for bin indices ``b``; see the module docstring."""
        c = self.centres(b)
        if mode == "centre":
            return c
        if mode == "uniform":
            u = torch.rand(b.shape, generator=generator, device="cpu").to(b.device)
            return c + (u - 0.5) * self.noise_width
        if mode == "empirical":
            if offsets is None:
                raise ValueError("empirical de-quantization needs offsets fitted on the training data")
            return c + offsets.draw(b, generator)
        raise ValueError(f"dequantization mode must be one of {DEQUANT_MODES}, not {mode!r}")


class EmpiricalOffsets:
    """Per-bin offsets x - c_b seen in the (standardized) training data, resampled at sampling time.

    Every in-range training value is kept (sorted by bin), so memory equals the data size; a
    draw picks one of its bin's offsets uniformly. Empty bins use offset 0 (the bin centre).
    """

    def __init__(self, binning: UniformBinning, values: torch.Tensor):
        v = values.detach().flatten().double().cpu()
        v = v[(v >= binning.lo) & (v <= binning.hi)]
        b = binning.to_index(v)
        order = torch.argsort(b, stable=True)
        b = b[order]
        self.offsets = torch.cat([(v[order] - binning.centres(b, torch.float64)).float(), torch.zeros(1)])
        self.counts = torch.bincount(b, minlength=binning.num_bins)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def draw(self, b: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        bc = b.cpu()
        u = torch.rand(bc.shape, generator=generator)
        n = self.counts[bc]
        j = self.starts[bc] + (u * n).long().clamp_max((n - 1).clamp_min(0))
        j = torch.where(n > 0, j, torch.full_like(j, len(self.offsets) - 1))  # empty bin -> the 0 entry
        return self.offsets[j].to(b.device)


def clip_census(binning: UniformBinning, view: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
                frames: torch.Tensor, generator: torch.Generator, chunk: int = 4096) -> dict[str, Any]:
    """How many training coordinates fall beyond the bin range (and are clipped into the edge bins).

    Every training frame is put through the training view once (one augmentation draw each, from
    its own generator so training's random stream is untouched).
    """
    coords = frames_hit = 0
    for start in range(0, len(frames), chunk):
        hit = binning.clipped(view(frames[start : start + chunk], generator))
        coords += int(hit.sum())
        frames_hit += int(hit.any(-1).sum())
    n = len(frames)
    total = n * frames.shape[1] * 3
    return {"clipped_coordinates": coords, "clipped_coordinate_fraction": coords / total, "clipped_frames": frames_hit,
            "clipped_frame_fraction": frames_hit / n, "census_frames": n}
