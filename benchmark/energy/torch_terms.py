"""The energy terms of the torch energy as pure tensor functions, each with its analytic forces.

Every function takes positions ``x`` (B, N, 3) and constant tensors built once by
``benchmark.energy.torch_energy`` and returns the energy (B,) in kJ/mol and, when ``forces``,
the forces -dE/dx (B, N, 3) in kJ/mol/nm (else None). They are pure so that ``torch.compile``
can fuse them and so that the autograd path can differentiate the energy-only branch.

Formulas and OpenMM's conventions are those of specs/openmm-energy.md sections 2-3; the
comments name the places where OpenMM's choice is not the obvious one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


def _scatter(n_atoms: int, index: Tensor, values: Tensor) -> Tensor:
    """Sum per-term force contributions (B, T, 3) into atoms (B, N, 3) at ``index`` (T,)."""
    out = values.new_zeros(values.shape[0], n_atoms, 3)
    return out.index_add_(1, index, values)


def _cross(a: Tensor, b: Tensor) -> Tensor:
    return torch.linalg.cross(a, b, dim=-1)


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum(-1)


# --- bonded -------------------------------------------------------------------------------------
@dataclass
class BondedTensors:
    """Index and parameter tensors of the bonded terms on the compute device and dtype."""

    bond_i: Tensor
    bond_j: Tensor
    bond_r0: Tensor
    bond_k: Tensor
    angle_i: Tensor
    angle_j: Tensor
    angle_k_idx: Tensor
    angle_theta0: Tensor
    angle_k: Tensor
    tors: Tensor  # (T, 4)
    tors_n: Tensor
    tors_phase: Tensor
    tors_k: Tensor
    # 1-4 exceptions: plain Coulomb + LJ, never cut off (spec 2.4)
    exc_i: Tensor
    exc_j: Tensor
    exc_qq: Tensor  # k_e * chargeProd
    exc_c12: Tensor  # 4 eps sigma^12
    exc_c6: Tensor  # 4 eps sigma^6


def bonds(x: Tensor, t: BondedTensors, forces: bool) -> tuple[Tensor, Tensor | None]:
    """E = sum k/2 (r - r0)^2."""
    d = x[:, t.bond_j] - x[:, t.bond_i]
    r = d.norm(dim=-1)
    dr = r - t.bond_r0
    e = (0.5 * t.bond_k * dr * dr).sum(-1)
    if not forces:
        return e, None
    fd = (t.bond_k * dr / r)[..., None] * d  # force on i; j gets the opposite
    n = x.shape[1]
    return e, _scatter(n, t.bond_i, fd) - _scatter(n, t.bond_j, fd)


def angles(x: Tensor, t: BondedTensors, forces: bool) -> tuple[Tensor, Tensor | None]:
    """E = sum k/2 (theta - theta0)^2, theta = acos of the clamped cosine at the middle atom.

    The forces use OpenMM's cross-product form (ReferenceAngleBondIxn), including its floor of
    1e-6 on |u x v| for (nearly) linear angles.
    """
    u = x[:, t.angle_i] - x[:, t.angle_j]
    v = x[:, t.angle_k_idx] - x[:, t.angle_j]
    uu, vv, uv = _dot(u, u), _dot(v, v), _dot(u, v)
    cos = (uv / torch.sqrt(uu * vv)).clamp(-1.0, 1.0)
    theta = torch.acos(cos)
    dtheta = theta - t.angle_theta0
    e = (0.5 * t.angle_k * dtheta * dtheta).sum(-1)
    if not forces:
        return e, None
    p = _cross(u, v)
    pn = p.norm(dim=-1).clamp_min(1e-6)
    de = t.angle_k * dtheta
    f1 = -(de / (uu * pn))[..., None] * _cross(u, p)  # -dE/dtheta * dtheta/dx1
    f3 = (de / (vv * pn))[..., None] * _cross(v, p)
    n = x.shape[1]
    return e, _scatter(n, t.angle_i, f1) + _scatter(n, t.angle_k_idx, f3) - _scatter(n, t.angle_j, f1 + f3)


def torsions(x: Tensor, t: BondedTensors, forces: bool) -> tuple[Tensor, Tensor | None]:
    """E = sum k (1 + cos(n phi - phi0)), proper and improper alike, quadruples as stored.

    phi = atan2(|b2| b1.n2, n1.n2) (IUPAC, trans = pi); OpenMM's acos/asin switch is the same function.
    """
    p = x[:, t.tors]  # (B, T, 4, 3)
    b1 = p[:, :, 1] - p[:, :, 0]
    b2 = p[:, :, 2] - p[:, :, 1]
    b3 = p[:, :, 3] - p[:, :, 2]
    n1 = _cross(b1, b2)
    n2 = _cross(b2, b3)
    b2n = b2.norm(dim=-1)
    phi = torch.atan2(b2n * _dot(b1, n2), _dot(n1, n2))
    arg = t.tors_n * phi - t.tors_phase
    e = (t.tors_k * (1.0 + torch.cos(arg))).sum(-1)
    if not forces:
        return e, None
    de = -t.tors_k * t.tors_n * torch.sin(arg)  # dE/dphi
    # dphi/dx1 = -|b2| n1/|n1|^2, dphi/dx4 = |b2| n2/|n2|^2 (Blondel & Karplus 1996)
    g1 = -(b2n / _dot(n1, n1))[..., None] * n1
    g4 = (b2n / _dot(n2, n2))[..., None] * n2
    bb = _dot(b2, b2)
    s1 = (_dot(b1, b2) / bb)[..., None]
    s3 = (_dot(b3, b2) / bb)[..., None]
    g2 = s3 * g4 - (s1 + 1.0) * g1
    g3 = s1 * g1 - (s3 + 1.0) * g4
    g = torch.stack((g1, g2, g3, g4), dim=2) * (-de)[..., None, None]  # forces (B, T, 4, 3)
    out = x.new_zeros(x.shape)
    return e, out.index_add_(1, t.tors.reshape(-1), g.reshape(g.shape[0], -1, 3))


def exceptions(x: Tensor, t: BondedTensors, forces: bool) -> tuple[Tensor, Tensor | None]:
    """The nonzero NonbondedForce exceptions (the scaled 1-4 pairs): LJ + plain Coulomb, no cutoff."""
    d = x[:, t.exc_j] - x[:, t.exc_i]
    r2 = _dot(d, d)
    inv_r2 = 1.0 / r2
    inv_r = torch.sqrt(inv_r2)
    inv_r6 = inv_r2 * inv_r2 * inv_r2
    e = (inv_r6 * (t.exc_c12 * inv_r6 - t.exc_c6) + t.exc_qq * inv_r).sum(-1)
    if not forces:
        return e, None
    g = inv_r2 * (inv_r6 * (12.0 * t.exc_c12 * inv_r6 - 6.0 * t.exc_c6) + t.exc_qq * inv_r)  # -dE/dr / r
    fd = g[..., None] * d  # force on j; i gets the opposite
    n = x.shape[1]
    return e, _scatter(n, t.exc_j, fd) - _scatter(n, t.exc_i, fd)


# --- all pairs: normal nonbonded pairs and generalized Born --------------------------------------
@dataclass
class PairTensors:
    """Constants of the all-pairs kernel over the i < j pair list (P pairs)."""

    i: Tensor  # (P,)
    j: Tensor
    # NonbondedForce normal pairs; exception pairs carry zeros
    qq: Tensor  # k_e q_i q_j
    c12: Tensor
    c6: Tensor
    nb_cutoff2: float | None  # keep r^2 <= cutoff^2 (Reference neighbour list)
    krf: float
    crf: float
    # generalized Born (None when the System has no GB force)
    gb: "GBTensors | None"


@dataclass
class GBTensors:
    """Per-atom and per-pair constants of the OBC Born radii, polar and ACE energies."""

    rho: Tensor  # (N,) offset radius
    inv_rho: Tensor
    inv_radius: Tensor  # 1/R
    self_coef: Tensor  # (N,) -0.5 k tau q^2
    ace_coef: Tensor  # (N,) A (R_sa + 0.14)^2 R_sa^6
    rho_i: Tensor  # (P,) rho of the first atom of each pair
    rho_j: Tensor
    s_i: Tensor  # scaled radius of the first atom
    s_j: Tensor
    kq: Tensor  # (P,) -k tau q_i q_j
    alpha: float
    beta: float
    gamma: float
    cutoff: float | None
    cutoff_inclusive: bool
    pair_shift: float  # 1/cutoff or 0
    step_inclusive: bool
    buried: bool


def _born_integral(r: Tensor, inv_r: Tensor, rho: Tensor, s: Tensor, keep: Tensor | None, g: GBTensors, forces: bool):
    """OBC's h(r; rho_i, s_j) for one direction of every pair, and dh/dr.

    h = 1/2 [1/L - 1/U + 1/4 (r - s^2/r)(1/U^2 - 1/L^2) + ln(L/U)/(2r)] for rho < r + s,
    U = r + s, L = max(rho, |r - s|); plus 1/rho - 1/L where rho < s - r for the C++ force.
    """
    U = r + s
    rms = r - s
    amd = rms.abs()
    L = torch.maximum(rho, amd)
    u = 1.0 / U
    l = 1.0 / L
    u2, l2 = u * u, l * l
    log_lu = torch.log(L * u)
    t = r - s * s * inv_r
    h = 0.5 * (l - u + 0.25 * t * (u2 - l2) + 0.5 * log_lu * inv_r)
    on = (U >= rho) if g.step_inclusive else (U > rho)
    if keep is not None:
        on = on & keep
    if g.buried:
        buried = rho < s - r
        h = h + torch.where(buried, 1.0 / rho - l, 0.0)
    h = torch.where(on, h, 0.0)
    if not forces:
        return h, None
    dL = torch.where(amd > rho, torch.sign(rms), 0.0)  # dL/dr: L = |r - s| where that exceeds rho
    dh = 0.5 * (
        u2 - dL * l2
        + 0.25 * (1.0 + s * s * inv_r * inv_r) * (u2 - l2)
        + 0.5 * t * (dL * l2 * l - u2 * u)
        + 0.5 * inv_r * (dL * l - u - log_lu * inv_r)
    )
    if g.buried:
        dh = dh + torch.where(buried, dL * l2, 0.0)
    return h, torch.where(on, dh, 0.0)


def pairs(x: Tensor, t: PairTensors, forces: bool) -> tuple[Tensor, Tensor | None]:
    """Normal-pair LJ + Coulomb (reaction field with a cutoff) and the whole OBC GB energy."""
    n = x.shape[1]
    d = x[:, t.j] - x[:, t.i]  # (B, P, 3)
    r2 = _dot(d, d)
    r = torch.sqrt(r2)
    inv_r = 1.0 / r
    inv_r2 = inv_r * inv_r
    inv_r6 = inv_r2 * inv_r2 * inv_r2

    # LJ + Coulomb over the normal pairs (exceptions carry zero parameters).
    e_nb = inv_r6 * (t.c12 * inv_r6 - t.c6) + t.qq * (inv_r + t.krf * r2 - t.crf)
    g = None  # -dE/dr / r per pair
    if forces:
        g = inv_r2 * (inv_r6 * (12.0 * t.c12 * inv_r6 - 6.0 * t.c6) + t.qq * inv_r) - 2.0 * t.krf * t.qq
    if t.nb_cutoff2 is not None:
        within = r2 <= t.nb_cutoff2
        e_nb = torch.where(within, e_nb, 0.0)
        if forces:
            g = torch.where(within, g, 0.0)
    energy = e_nb.sum(-1)

    gb = t.gb
    if gb is not None:
        keep = None
        if gb.cutoff is not None:
            keep = (r <= gb.cutoff) if gb.cutoff_inclusive else (r < gb.cutoff)
        h_ij, dh_ij = _born_integral(r, inv_r, gb.rho_i, gb.s_j, keep, gb, forces)
        h_ji, dh_ji = _born_integral(r, inv_r, gb.rho_j, gb.s_i, keep, gb, forces)
        born_sum = x.new_zeros(x.shape[0], n).index_add_(1, t.i, h_ij).index_add_(1, t.j, h_ji)
        psi = born_sum * gb.rho
        z = psi * (gb.alpha + psi * (-gb.beta + gb.gamma * psi))
        th = torch.tanh(z)
        born = 1.0 / (gb.inv_rho - th * gb.inv_radius)  # (B, N)
        inv_b = 1.0 / born
        ace = gb.ace_coef * inv_b.pow(6)
        energy = energy + (gb.self_coef * inv_b + ace).sum(-1)

        b_i, b_j = born[:, t.i], born[:, t.j]
        bb = b_i * b_j
        ex = torch.exp(-0.25 * r2 / bb)
        f2 = r2 + bb * ex
        inv_f = torch.rsqrt(f2)
        e_pol = gb.kq * (inv_f - gb.pair_shift)
        if keep is not None:
            e_pol = torch.where(keep, e_pol, 0.0)
        energy = energy + e_pol.sum(-1)
        if forces:
            # explicit r-dependence of the pair term: dE/dr / r = -kq (1 - e/4) / f^3
            kf3 = gb.kq * inv_f / f2
            g_pol = kf3 * (1.0 - 0.25 * ex)
            # dE/dB_i of the pair term = -kq e (1 + r^2/(4 B_i B_j)) B_j / (2 f^3)
            w = -0.5 * kf3 * ex * (1.0 + 0.25 * r2 / bb)
            if keep is not None:
                g_pol = torch.where(keep, g_pol, 0.0)
                w = torch.where(keep, w, 0.0)
            g = g + g_pol
            de_db = -(gb.self_coef * inv_b + 6.0 * ace) * inv_b  # self + ACE: d/dB of c/B and c'/B^6
            de_db = de_db.index_add(1, t.i, w * b_j).index_add(1, t.j, w * b_i)
            # chain through B(I): dB/dI = B^2/R (1 - tanh^2) dz/dpsi rho
            dz = gb.alpha + psi * (-2.0 * gb.beta + 3.0 * gb.gamma * psi)
            c = de_db * born * born * gb.inv_radius * (1.0 - th * th) * dz * gb.rho  # dE/dI
            g = g - (c[:, t.i] * dh_ij + c[:, t.j] * dh_ji) * inv_r

    if not forces:
        return energy, None
    fd = g[..., None] * d  # force on j; i gets the opposite
    f = x.new_zeros(x.shape).index_add_(1, t.j, fd).index_add_(1, t.i, -fd)
    return energy, f
