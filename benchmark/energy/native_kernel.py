"""The compiled CPU kernel of the torch energy: ``native_kernel.c``, built with the system C compiler at first use.

Why a second kernel: on the CPU, eager torch spends its time in the fixed cost of ~350 tensor
operations per call (2-3 us each) and in streaming every (batch, pairs) temporary through
memory; that caps it at a few times the OpenMM loop for large batches and makes it slower than
OpenMM for one conformation, which is what an MD chain evaluates. The C loop keeps one pair in
registers. It computes the same function as ``torch_terms`` from the same parameter tensors
(``build_tensors`` in float64 on the CPU), so the parameters are read from the OpenMM System in one
place only; the arithmetic is the part written twice, and both versions are held to OpenMM's
Reference platform by the same parity tests (tests/test_torch_energy.py).

Building: ``$CC`` (default ``cc``) with ``-O3 -fno-math-errno -ffp-contract=off`` (IEEE double
arithmetic without fused multiply-adds, so the compiled arithmetic does not depend on the CPU's
instruction set; the C library's exp, log and tanh may still) and OpenMP where the compiler has it,
into ``<BGBENCH_WORK>/native/`` under a name that hashes the source and the flags; about a second,
once per machine. Without a working compiler
``available()`` is False and the torch energy uses its torch kernel (and says so in ``describe``).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from benchmark.energy import torch_terms as terms
from benchmark.paths import work_dir

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("native_kernel.c")
FLAGS = ("-O3", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-shared")
OPENMP = ("-fopenmp",)

_LIBRARY: ctypes.CDLL | None = None
_FAILED: str | None = None

_i64p = ctypes.POINTER(ctypes.c_int64)
_f64p = ctypes.POINTER(ctypes.c_double)


class Params(ctypes.Structure):
    """Mirror of ``Params`` in native_kernel.c (pointers into the parameter tensors)."""

    _fields_ = [
        ("n_atoms", ctypes.c_int64),
        ("n_bonds", ctypes.c_int64), ("bond_i", _i64p), ("bond_j", _i64p), ("bond_r0", _f64p), ("bond_k", _f64p),
        ("n_angles", ctypes.c_int64), ("angle_i", _i64p), ("angle_j", _i64p), ("angle_k_idx", _i64p),
        ("angle_theta0", _f64p), ("angle_k", _f64p),
        ("n_torsions", ctypes.c_int64), ("tors_atoms", _i64p), ("tors_n", _f64p), ("tors_phase", _f64p), ("tors_k", _f64p),
        ("n_pairs", ctypes.c_int64), ("pair_i", _i64p), ("pair_j", _i64p), ("qq", _f64p), ("c12", _f64p), ("c6", _f64p),
        ("nb_cutoff2", _f64p), ("qq_krf", _f64p), ("qq_crf", _f64p),
        ("has_gb", ctypes.c_int32), ("gb_has_cutoff", ctypes.c_int32), ("gb_cutoff_inclusive", ctypes.c_int32),
        ("step_inclusive", ctypes.c_int32), ("buried", ctypes.c_int32),
        ("alpha", ctypes.c_double), ("beta", ctypes.c_double), ("gamma", ctypes.c_double),
        ("gb_cutoff", ctypes.c_double), ("pair_shift", ctypes.c_double),
        ("rho", _f64p), ("inv_rho", _f64p), ("inv_radius", _f64p), ("self_coef", _f64p), ("ace_coef", _f64p),
        ("rho_own", _f64p), ("s_other", _f64p), ("s2_other", _f64p), ("kq", _f64p),
    ]


def _compile(target: Path, flags: tuple[str, ...]) -> None:
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        raise OSError(f"no C compiler {compiler!r} on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        done = subprocess.run([compiler, *flags, str(SOURCE), "-o", str(out), "-lm"], capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"{compiler} failed: {done.stderr.strip()[-500:]}")
        os.replace(out, target)  # atomic: a concurrent process sees no half-written library


def _library() -> ctypes.CDLL:
    """Load the compiled kernel, building it first if this machine has no copy; OSError if impossible."""
    global _LIBRARY, _FAILED
    if _LIBRARY is not None:
        return _LIBRARY
    if _FAILED is not None:
        raise OSError(_FAILED)
    source = SOURCE.read_bytes()
    errors = []
    for flags in (FLAGS + OPENMP, FLAGS):  # OpenMP where the compiler has it
        digest = hashlib.sha256(source + " ".join(flags).encode()).hexdigest()[:16]
        target = work_dir() / "native" / f"bgbench_energy_{digest}.so"
        try:
            if not target.exists():
                _compile(target, flags)
            lib = ctypes.CDLL(str(target))
        except OSError as exc:
            errors.append(str(exc))
            continue
        lib.bgbench_energy.restype = ctypes.c_int64
        # Plain addresses (tensor.data_ptr()): a ctypes pointer cast per argument costs more than the kernel on small systems.
        lib.bgbench_energy.argtypes = [ctypes.POINTER(Params), ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_void_p, ctypes.c_int32]
        _LIBRARY = lib
        return lib
    _FAILED = "; ".join(errors)
    raise OSError(_FAILED)


def available() -> bool:
    """Whether the kernel is (or can be) built and loaded on this machine."""
    try:
        _library()
    except OSError as exc:
        log.info("native energy kernel unavailable (%s); the torch kernel is used", exc)
        return False
    return True


class NativeKernel:
    """Energies and forces (kJ/mol, kJ/mol/nm) of float64 CPU positions (B, N, 3) from the torch energy's tensors."""

    def __init__(self, n_atoms: int, bonded: terms.BondedTensors, pairs: terms.PairTensors | None):
        self._lib = _library()
        self._keep: list[torch.Tensor] = []  # the struct points into these

        def ptr(t: torch.Tensor | None):
            if t is None:
                return None
            if t.device.type != "cpu" or t.dtype not in (torch.float64, torch.int64):
                raise ValueError("the native kernel reads float64/int64 CPU tensors")
            t = t.contiguous()
            self._keep.append(t)
            return ctypes.cast(t.data_ptr(), _i64p if t.dtype == torch.int64 else _f64p)

        b = bonded
        p = Params(n_atoms=n_atoms, n_bonds=len(b.bond_r0), n_angles=len(b.angle_theta0), n_torsions=len(b.tors_n))
        for name in b.__dataclass_fields__:
            setattr(p, name, ptr(getattr(b, name)))
        if pairs is not None:
            p.n_pairs = len(pairs.i)
            p.pair_i, p.pair_j = ptr(pairs.i), ptr(pairs.j)
            for name in ("qq", "c12", "c6", "nb_cutoff2", "qq_krf", "qq_crf"):
                setattr(p, name, ptr(getattr(pairs, name)))
            if (g := pairs.gb) is not None:
                p.has_gb = 1
                p.gb_has_cutoff = int(g.cutoff is not None)
                p.gb_cutoff = g.cutoff if g.cutoff is not None else 0.0
                p.gb_cutoff_inclusive, p.step_inclusive, p.buried = int(g.cutoff_inclusive), int(g.step_inclusive), int(g.buried)
                p.alpha, p.beta, p.gamma, p.pair_shift = g.alpha, g.beta, g.gamma, g.pair_shift
                for name in ("rho", "inv_rho", "inv_radius", "self_coef", "ace_coef", "rho_own", "s_other", "s2_other", "kq"):
                    setattr(p, name, ptr(getattr(g, name)))
        self._params = p
        self._params_ref = ctypes.byref(p)
        self.n_atoms = n_atoms

    def __call__(self, x: torch.Tensor, forces: bool, unit: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """(energies (B,), forces (B, N, 3) or None, number of conformations without a finite energy), divided by ``unit``.

        Non-finite energies come back as +inf with zero forces (OpenMM's handling).
        """
        x = x.to(device="cpu", dtype=torch.float64).contiguous()
        n = x.shape[0]
        energies = torch.empty(n, dtype=torch.float64)
        grads = torch.empty(n, self.n_atoms, 3, dtype=torch.float64) if forces else None
        n_bad = self._lib.bgbench_energy(self._params_ref, n, x.data_ptr(), energies.data_ptr(),
                                         grads.data_ptr() if forces else None, torch.get_num_threads())
        if n_bad < 0:
            raise MemoryError("the native energy kernel could not allocate its workspace")
        if unit != 1.0:
            energies.div_(unit)
            if forces:
                grads.div_(unit)
        return energies, grads, n_bad
