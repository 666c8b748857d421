"""Batched torch implementation of the target energy, equal to OpenMM's Reference platform.

Reads every parameter from the OpenMM System the project builds (``torch_params``) into constant
tensors (``build_tensors``) and evaluates all conformations of a batch with one of two kernels:

* ``native`` (the default on the CPU in float64 with analytic forces): the compiled C loop of
  ``native_kernel``, built at first use with the system's C compiler. One conformation per
  iteration, batch split between ``torch.get_num_threads()`` threads; no temporaries, so no chunks.
* ``torch``: the tensor kernel of ``torch_terms`` (any device, float32, autograd forces,
  ``torch.compile``), in chunks so that memory stays bounded. It is what runs on CUDA, and on a
  CPU without a C compiler.

Both compute the same function from the same tensors and are held to OpenMM by the same tests.
It is the harness energy by default (``bgbench run --energy torch``); the record's ``energy``
section names the kernel. The measured tables (error per task system, throughput against the
OpenMM loop, batched MD, memory) are in docs/torch-energy.md.

Accuracy (tests/test_torch_energy.py, against OpenMM Reference on MD frames, 0.01 nm noise and
clashes of every task system and of all 120 published 2AA/4AA/8AA evaluation peptides): float64
agrees to <= 6e-14 relative in energy and <= 4e-15 relative to the force norm. float32 (same
code, positions and parameters in single precision): relative energy error <= 1.1e-5 (AL4; 2e-7
to 2e-6 for the other task systems, 1.3e-3 kT for chignolin, whose Coulomb and GB sums cancel
to a few parts in 1e3) and force error <= 2e-5 of the force norm. Summing the per-pair terms in
float64 does not help: the error is in the terms.

Forces (torch kernel): analytic. Measured on the 2-core CPU with the earlier kernel (one thread, best of 10-15,
shared machine), energy and forces per second: AA batch 512 analytic 9 100 / autograd 6 000
(energy alone 15 300); chignolin chunks of 16 analytic 330 / autograd 210 (energy alone 650).
Autograd is kept as the ``forces="autograd"`` option; it differentiates the energy-only branch
of the same code. Where the CPU time goes and what made it faster: docs/torch-energy.md
("Where the time goes"); the largest single gain was ``keep_freed_memory``.

``torch.compile`` (``compile=True``, off by default): the same kernel compiled by Inductor runs
about 2x faster on the CPU (one thread: AA 14 900/s, 8AA PGESTAES 920/s, chignolin 655/s). It is
off by default because it is not robust enough here: the first compilation takes 8-13 min of wall
time per process on the shared 2-core machine (load 10-14; Inductor's on-disk cache did not spare
it in later processes), and the batch-of-one kernel it generated crashed with two threads (now
avoided by padding, see ``_compiled``). One compiled graph serves every system of a force-field recipe and every batch
size; if compilation raises, the energy logs a warning and continues in eager mode.

Memory: the native kernel needs the batch's positions and forces and a workspace of 6 N + 3 P
doubles per thread (chignolin: 230 KB). In the torch kernel chunks bound it: in float64 chignolin
(138 atoms, 9 453 pairs) needs ~4-5 MB per
conformation in a chunk (measured peak RSS increase: chunk 16 -> 76 MB, 64 -> 320 MB, 256 ->
1.0 GB) and ~2.5 MB in float32. The default chunk is 2^17 pairs on the CPU (13 chignolin
conformations, ~60 MB; chunks of 2^15 to 2^18 pairs are equally fast there) and 2^22 on CUDA
(443 chignolin conformations, ~2 GB).

CUDA: everything is device-agnostic and the CUDA test runs where a GPU is present, but no GPU was
available when this was written, so it has not been run there. On CUDA ``index_add_`` sums with
atomics, so repeated evaluations may differ in the last bits; on the CPU they repeat exactly.
"""

from __future__ import annotations

import ctypes
import logging
import math
import sys

import numpy as np
import openmm
import torch

from benchmark.energy import native_kernel
from benchmark.energy import torch_terms as terms
from benchmark.energy.base import TargetEnergy
from benchmark.energy.torch_params import ONE_4PI_EPS0, ACE_PROBE_RADIUS, EnergyParameters, extract_parameters

log = logging.getLogger(__name__)

PRECISIONS = {"float64": torch.float64, "float32": torch.float32}
FORCE_MODES = ("analytic", "autograd")
#: "native": the compiled CPU loop (native_kernel.c; float64, analytic forces, CPU only); "torch": the
#: tensor kernel of torch_terms (any device and precision, autograd, torch.compile); "auto": native where
#: it applies and builds, torch elsewhere.
KERNELS = ("auto", "native", "torch")
#: Default chunk: about this many atom pairs per chunk. On the CPU that keeps every (chunk, pairs)
#: temporary near the cache size (spec section 10: whole batches are memory-bound); on a GPU it
#: keeps kernels large (about 4e6 pairs: ~1.6 GB of temporaries in float64).
PAIRS_PER_CHUNK = {"cpu": 1 << 17, "cuda": 1 << 22}


class TorchEnergy(TargetEnergy):
    """u(x) = U(x)/kT and -grad u for batches of conformations, with torch on CPU or CUDA.

    ``precision`` "float64" (default) or "float32"; ``device`` where the arithmetic runs;
    ``chunk_size`` conformations per chunk (None: about 2^17 atom pairs per chunk);
    ``forces`` "analytic" (default) or "autograd"; ``compile`` wraps the kernel in
    ``torch.compile`` and falls back to eager mode if compilation fails; ``kernel`` (see ``KERNELS``)
    chooses between the compiled CPU loop and the torch tensor kernel.

    Tensors come back on the device of a tensor input (numpy input: CPU), as float64.
    """

    def __init__(self, system, precision: str = "float64", device: str | torch.device = "cpu",
                 chunk_size: int | None = None, forces: str = "analytic", compile: bool = False,
                 kernel: str = "auto"):
        self._setup(system.create_openmm_system(), system.kT_kJ_per_mol, system.name,
                    precision, device, chunk_size, forces, compile, kernel)

    @classmethod
    def from_openmm(cls, omm_system: openmm.System, kT_kJ_per_mol: float, name: str = "system", **options) -> "TorchEnergy":
        """The torch energy of any supported OpenMM System (tests use hand-made variants)."""
        self = cls.__new__(cls)
        opts = {"precision": "float64", "device": "cpu", "chunk_size": None, "forces": "analytic", "compile": False,
                "kernel": "auto"} | options
        self._setup(omm_system, kT_kJ_per_mol, name, **opts)
        return self

    def _setup(self, omm_system, kT, name, precision, device, chunk_size, forces, compile, kernel) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if forces not in FORCE_MODES:
            raise ValueError(f"forces must be one of {', '.join(FORCE_MODES)}, got {forces!r}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        self.params: EnergyParameters = extract_parameters(omm_system)
        self.n_atoms = self.params.n_atoms
        self.kT_kJ_per_mol = float(kT)
        self.system_name = name
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        self.device = torch.device(device)
        self.force_mode = forces
        n_pairs = max(1, self.n_atoms * (self.n_atoms - 1) // 2)
        per_chunk = PAIRS_PER_CHUNK.get(self.device.type, PAIRS_PER_CHUNK["cpu"])
        self.chunk_size = int(chunk_size) if chunk_size else max(1, per_chunk // n_pairs)
        self._bonded, self._pairs = build_tensors(self.params, self.dtype, self.device)
        self.compile_requested = bool(compile)
        self._compiled_failed = False
        self._native = self._native_kernel(kernel)
        self.kernel = "native" if self._native is not None else "torch"
        if self.device.type == "cpu" and self._native is None:  # the chunked torch kernel's temporaries
            keep_freed_memory()

    def _native_kernel(self, kernel: str) -> native_kernel.NativeKernel | None:
        """The compiled CPU loop where it applies (float64, CPU, analytic, not compiled) and builds, else None."""
        fits = (self.device.type == "cpu" and self.precision == "float64" and self.force_mode == "analytic"
                and not self.compile_requested)
        if kernel == "torch" or (kernel == "auto" and not (fits and native_kernel.available())):
            return None
        if not fits:
            raise ValueError("kernel='native' runs on the CPU in float64 with analytic forces and without compile")
        return native_kernel.NativeKernel(self.n_atoms, self._bonded, self._pairs)

    # --- the contract ---------------------------------------------------------------------
    def energy(self, x) -> torch.Tensor:
        e, _ = self._evaluate(x, forces=False)
        return e

    def energy_and_forces(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        return self._evaluate(x, forces=True)

    def describe(self) -> dict:
        """What a run record stores about this energy."""
        return {
            "backend": "torch",
            "kernel": self.kernel,
            "precision": self.precision,
            "device": str(self.device),
            "forces": self.force_mode,
            "compiled": self.compile_requested and not self._compiled_failed,
            "chunk_size": self.chunk_size,
            "torch": torch.__version__,
        }

    # --- internals --------------------------------------------------------------------------
    def _positions(self, x) -> tuple[torch.Tensor, torch.device]:
        if isinstance(x, torch.Tensor):
            out_device = x.device
            t = x.detach()
        else:
            out_device = torch.device("cpu")
            t = torch.from_numpy(np.asarray(x, dtype=np.float64))
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3 or tuple(t.shape[1:]) != (self.n_atoms, 3):
            raise ValueError(f"positions must have shape (B, {self.n_atoms}, 3) in nm, got {tuple(t.shape)}")
        return t.to(device=self.device, dtype=self.dtype), out_device

    def _kernel(self, forces: bool):
        """The function of one chunk: eager, or compiled with a permanent fall-back to eager."""
        autograd = forces and self.force_mode == "autograd"
        fn = _autograd_total if autograd else _total
        args = (self._bonded, self._pairs) if autograd else (self._bonded, self._pairs, forces)
        if not self.compile_requested or self._compiled_failed:
            return lambda x: fn(x, *args)
        compiled = _compiled(fn)

        def run(x):
            if not self._compiled_failed:
                try:
                    if x.shape[0] == 1:  # see _compiled: never hand Inductor a batch of one
                        e, f = compiled(x.expand(2, -1, -1).contiguous(), *args)
                        return e[:1], (None if f is None else f[:1])
                    return compiled(x, *args)
                except Exception as exc:  # noqa: BLE001 - any compiler failure must leave a working energy
                    log.warning("torch.compile failed (%s: %s); using eager mode", type(exc).__name__, exc)
                    self._compiled_failed = True
            return fn(x, *args)

        return run

    def _evaluate(self, x, forces: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        pos, out_device = self._positions(x)
        n = pos.shape[0]
        if self._native is not None:  # no temporaries to bound: the whole batch in one call; inf handled inside
            e, f, n_bad = self._native(pos, forces, unit=self.kT_kJ_per_mol)
            self._warn_non_finite(n_bad, n)
            return e.to(out_device), (f.to(out_device) if forces else None)
        energies = torch.empty(n, dtype=torch.float64, device=self.device)
        grads = torch.empty(n, self.n_atoms, 3, dtype=torch.float64, device=self.device) if forces else None
        kernel = self._kernel(forces)
        with torch.no_grad():
            for start in range(0, n, self.chunk_size):
                stop = min(n, start + self.chunk_size)
                e, f = kernel(pos[start:stop])
                energies[start:stop] = e.to(torch.float64) / self.kT_kJ_per_mol
                if forces:
                    grads[start:stop] = f.to(torch.float64) / self.kT_kJ_per_mol
        return self._finish(energies, grads, out_device)

    def _finish(self, energies: torch.Tensor, grads: torch.Tensor | None, out_device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Non-finite energies become +inf with zero forces (OpenMM's handling); results go to ``out_device``."""
        forces = grads is not None
        n = len(energies)
        bad = ~torch.isfinite(energies)
        energies = torch.where(bad, math.inf, energies)
        if forces:
            zero = bad | ~torch.isfinite(grads).all(dim=(1, 2))
            grads = torch.where(zero[:, None, None], 0.0, grads)
        self._warn_non_finite(int(bad.sum()), n)
        return energies.to(out_device), (grads.to(out_device) if forces else None)

    def _warn_non_finite(self, n_bad: int, n: int) -> None:
        if n_bad:
            log.warning("%s: %d of %d conformations had no finite energy; they get +inf", self.system_name, n_bad, n)


#: glibc mallopt parameters: allocations below 32 MiB come from the heap, and up to 512 MiB of
#: freed heap stays with the process instead of going back to the kernel.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_TUNED = False


def keep_freed_memory() -> None:
    """Stop glibc from handing the kernel's pages back after every chunk (Linux only; once per process).

    Each chunk allocates and frees a few hundred temporaries of 0.1-2 MB. With glibc's default
    (adaptive) thresholds the largest go to mmap or get trimmed from the heap top when freed, so
    the next chunk page-faults all of them in again: measured on the 2-core CPU (one thread,
    float64, chignolin, batch 64), 30 000-90 000 minor page faults per call and 140-285
    conformations/s; with fixed thresholds, none and 380/s. The cost is that the process keeps
    up to 512 MiB of freed heap for reuse; this is process-wide, hence done once and only on the CPU.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or not sys.platform.startswith("linux"):
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20)
    except (OSError, AttributeError):  # not glibc: leave the allocator alone
        ok = False
    if not ok:
        log.debug("mallopt unavailable; the torch energy runs with the allocator's defaults")


def _total(x: torch.Tensor, bonded: terms.BondedTensors, pairs: terms.PairTensors | None, forces: bool):
    """Sum of all terms for positions (B, N, 3): energies (B,) in kJ/mol, forces (B, N, 3) in kJ/mol/nm."""
    X = x.permute(2, 0, 1).contiguous()  # planar (3, B, N), see torch_terms
    F = torch.zeros_like(X) if forces else None
    e = terms.bonds(X, bonded, F) + terms.angles(X, bonded, F) + terms.torsions(X, bonded, F)
    if pairs is not None:
        e = e + terms.pairs(X, pairs, F)
    return e, (F.permute(1, 2, 0) if forces else None)


def _autograd_total(x: torch.Tensor, bonded, pairs):
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        e, _ = _total(xg, bonded, pairs, forces=False)
        (grad,) = torch.autograd.grad(e.sum(), xg)
    return e.detach(), -grad


_COMPILED: dict = {}


def _compiled(fn):
    """One ``torch.compile`` per kernel function, shared by every TorchEnergy.

    Dynamic shapes: systems of the same force-field recipe and any batch size >= 2 reuse one
    graph, so the compilation (minutes on two cores) is paid once per process and recipe. A batch
    of one would get a graph of its own, and with two threads the kernel Inductor (torch 2.13, CPU)
    generates for it crashes the process with a segmentation fault, which no fall-back can catch:
    single conformations are therefore evaluated as a batch of two identical ones.
    """
    if fn not in _COMPILED:
        _COMPILED[fn] = torch.compile(fn, dynamic=True)
    return _COMPILED[fn]


def build_tensors(p: EnergyParameters, dtype: torch.dtype, device: torch.device):
    """Constant tensors of every term on ``device`` in ``dtype`` (indices as int64)."""
    def f(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device)

    def idx(a):
        return torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)

    b = p.bonded
    nb = p.nonbonded
    n = p.n_atoms
    bonded = terms.BondedTensors(
        bond_i=idx(b.bonds[:, 0]), bond_j=idx(b.bonds[:, 1]), bond_r0=f(b.bond_r0), bond_k=f(b.bond_k),
        angle_i=idx(b.angles[:, 0]), angle_j=idx(b.angles[:, 1]), angle_k_idx=idx(b.angles[:, 2]),
        angle_theta0=f(b.angle_theta0), angle_k=f(b.angle_k),
        tors_atoms=idx(b.torsions.T.reshape(-1)), tors_n=f(b.torsion_n), tors_phase=f(b.torsion_phase), tors_k=f(b.torsion_k),
    )
    if nb is None and p.gb is None:
        return bonded, None
    i, j = np.triu_indices(n, 1)
    cutoff2 = qq_krf = qq_crf = None
    if nb is not None:
        q, sg, ep = nb.charge, nb.sigma, nb.epsilon
        qq = ONE_4PI_EPS0 * q[i] * q[j]
        sigma = 0.5 * (sg[i] + sg[j])
        epsilon = np.sqrt(ep[i] * ep[j])
        c12, c6 = 4 * epsilon * sigma**12, 4 * epsilon * sigma**6
        # Each exception replaces its pair's normal interaction: zeros for excluded pairs, the
        # exception's own LJ and plain Coulomb (no reaction field, no cutoff) for scaled 1-4 pairs.
        lo, hi = nb.exception_pairs.min(axis=1), nb.exception_pairs.max(axis=1)
        k = lo * n - lo * (lo + 1) // 2 + hi - lo - 1  # position of (lo, hi) in the triu list
        is_exc = np.zeros(len(i), bool)
        is_exc[k] = True
        sig, eps = nb.exception_sigma, nb.exception_epsilon
        qq[k] = ONE_4PI_EPS0 * nb.exception_qq
        c12[k], c6[k] = 4 * eps * sig**12, 4 * eps * sig**6
        if nb.cutoff is not None:
            cutoff2 = f(np.where(is_exc, np.inf, nb.cutoff**2))
            qq_crf = f(np.where(is_exc, 0.0, qq * nb.crf))
            qq_krf = f(np.where(is_exc, 0.0, qq * nb.krf)) if nb.krf != 0.0 else None
    else:
        qq = c12 = c6 = np.zeros(len(i))
    gb_tensors = None
    if (g := p.gb) is not None:
        k_tau = g.k_coulomb * g.tau
        rs = g.surface_radius
        s_other = np.stack((g.scaled_radius[j], g.scaled_radius[i]))
        gb_tensors = terms.GBTensors(
            rho=f(g.offset_radius), inv_rho=f(1.0 / g.offset_radius), inv_radius=f(1.0 / g.radius),
            self_coef=f(-0.5 * k_tau * g.charge**2),
            ace_coef=f(g.surface_coefficient * (rs + ACE_PROBE_RADIUS) ** 2 * rs**6),
            own=idx(np.concatenate((i, j))), rho_own=f(np.stack((g.offset_radius[i], g.offset_radius[j]))),
            s_other=f(s_other), s2_other=f(s_other * s_other),
            kq=f(-k_tau * g.charge[i] * g.charge[j]), alpha=g.alpha, beta=g.beta, gamma=g.gamma,
            cutoff=g.cutoff, cutoff_inclusive=g.cutoff_inclusive, pair_shift=0.0 if g.cutoff is None else 1.0 / g.cutoff,
            step_inclusive=g.step_inclusive, buried=g.buried_correction,
        )
    pairs = terms.PairTensors(
        i=idx(i), j=idx(j), qq=f(qq), c12=f(c12), c6=f(c6), c12x12=f(12 * c12), c6x6=f(6 * c6),
        nb_cutoff2=cutoff2, qq_krf=qq_krf, qq_crf=qq_crf, gb=gb_tensors,
    )
    return bonded, pairs
