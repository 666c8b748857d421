"""Step-by-step generation of an autoregressive density (any head; ROBIN too), for the harness's twisted SMC.

A ``DensitySession`` holds the tokens (bins, or a continuous head's values) and de-quantized values
of ``n`` particles so far. ``extend(k)`` generates the next k coordinates with the density's one
sampling loop (``ARDensity.extend_tokens``, any head: ARBG's categorical, the mixture heads), the
uniforms and de-quantization noise for all particles drawn up front, so chunking changes nothing,
and returns the log q term of every new coordinate in nm^-1: the head's log conditional (ARBG: the
tempered categorical log-probability), minus log w for binned heads (de-quantization width), minus
log sigma (standardization).

KV caches: particles are processed in chunks of ``chunk_size``. With a single chunk its cache is
kept between ``extend`` calls and re-indexed by ``select`` (``KVCache.select``). With several, only
one chunk's cache exists at a time: it is rebuilt from the chunk's prefix by one teacher-forced
pass (no output head) at the start of each ``extend``, as the paper's SMC rebuilds per residue
(spec 7.3: at most (L - 1) x M prefix passes), so memory stays at one chunk.
"""

from __future__ import annotations

import math

import torch

from baselines.arbg.density import ARDensity, settle
from baselines.toolkit.nn import KVCache
from benchmark.adapter import AutoregressiveSession


class DensitySession(AutoregressiveSession):
    """Particles of one ``ARDensity`` standardized by ``sigma`` (nm per model unit), in generation order."""

    def __init__(self, density: ARDensity, sigma: float, n: int, generator: torch.Generator, chunk_size: int = 2000):
        if density.binned and density.dequantization == "empirical":
            raise ValueError("step-by-step generation supports uniform or bin-centre de-quantization only")
        self.density, self.sigma, self.n, self.generator = density, float(sigma), int(n), generator
        self.dim, self.length = density.dim, 0
        self.chunk_size = max(1, int(chunk_size))
        self.device = density.net.device
        self.tokens = density.start(self.n, self.device)[:, :0]  # the head's targets: bins, or values (continuous)
        self.values = torch.empty(self.n, 0)  # de-quantized model units (CPU)
        self.cache: KVCache | None = None  # kept only when all particles fit one chunk
        self.term = density.coordinate_log_correction - math.log(self.sigma)

    def _chunks(self) -> list[slice]:
        return [slice(a, min(a + self.chunk_size, self.n)) for a in range(0, self.n, self.chunk_size)]

    def _prefilled_cache(self, rows: slice) -> KVCache:
        """A cache holding positions 0 .. length-1 of particles ``rows`` (one teacher-forced pass)."""
        m = rows.stop - rows.start
        cache = self.density.net.new_cache(m, self.device, max_len=self.dim)
        if self.length > 0:
            self.density.prefill(self.density.inputs(self.tokens[rows]), cache)
        return cache

    @torch.no_grad()
    def extend(self, k: int) -> torch.Tensor:
        k = min(int(k), self.dim - self.length)
        u = torch.rand(self.n, k, self.density.head.uniforms, generator=self.generator, dtype=torch.float64)
        u = u.to(self.device)
        new_tokens = torch.empty(self.n, k, dtype=self.tokens.dtype, device=self.device)
        terms = torch.empty(self.n, k, dtype=torch.float64)
        chunks = self._chunks()
        for rows in chunks:
            cache = self.cache if self.cache is not None else self._prefilled_cache(rows)
            new_tokens[rows], lp = self.density.extend_tokens(self.tokens[rows], u[rows], cache)
            terms[rows] = lp.cpu()
            self.cache = cache if len(chunks) == 1 else None
        if self.density.binned:
            noise_mode = "centre" if self.density.dequantization == "centre" else "uniform"
            values = self.density.binning.dequantize(new_tokens.cpu(), noise_mode, self.generator)
        else:
            values = new_tokens.cpu()
        self.tokens = torch.cat([self.tokens, new_tokens], dim=1)
        self.values = torch.cat([self.values, values], dim=1)
        self.length += k
        return terms + self.term

    def select(self, indices: torch.Tensor) -> None:
        idx = torch.as_tensor(indices, dtype=torch.long)
        if len(idx) != self.n:
            raise ValueError(f"select needs {self.n} indices, got {len(idx)}")
        self.tokens, self.values = self.tokens[idx.to(self.device)], self.values[idx]
        if self.cache is not None:
            self.cache.select(idx)

    def positions(self) -> torch.Tensor:
        atoms = self.length // 3
        x_hat = self.values[:, : 3 * atoms]
        if self.density.binned and self.density.dequantization == "uniform":
            x_hat = settle(self.density.binning, x_hat, self.tokens[:, : 3 * atoms].cpu(), self.sigma)
        return (x_hat * self.sigma).reshape(self.n, atoms, 3)


__all__ = ["DensitySession"]
