/* The CPU kernel of the torch energy, compiled at first use (benchmark/energy/native_kernel.py).
 *
 * The same arithmetic as benchmark/energy/torch_terms.py, one conformation at a time, reading the
 * same parameter tensors (float64, CPU, contiguous). Why it exists: eager torch issues ~350 tensor
 * operations per call, each with a fixed cost of a few microseconds and each streaming its whole
 * (batch, pairs) block through memory; a loop that keeps one pair in registers does neither.
 * Conformations are independent, so the batch loop runs on OpenMP threads and every result is the
 * same whatever the thread count. Masks are multiplied in, as in the torch kernel, so that a
 * non-finite position gives a non-finite energy exactly where the torch kernel gives one.
 * Formulas and OpenMM's conventions: specs/openmm-energy.md sections 2-3; comments in torch_terms.py.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    int64_t n_atoms;
    int64_t n_bonds;
    const int64_t *bond_i, *bond_j;
    const double *bond_r0, *bond_k;
    int64_t n_angles;
    const int64_t *angle_i, *angle_j, *angle_k_idx;
    const double *angle_theta0, *angle_k;
    int64_t n_torsions;
    const int64_t *tors_atoms; /* (4 T,): all first atoms, then all second atoms, ... */
    const double *tors_n, *tors_phase, *tors_k;
    int64_t n_pairs; /* 0: no nonbonded or GB force */
    const int64_t *pair_i, *pair_j;
    const double *qq, *c12, *c6;
    const double *nb_cutoff2; /* NULL: NoCutoff */
    const double *qq_krf;     /* NULL where krf = 0 */
    const double *qq_crf;     /* NULL without a cutoff */
    int32_t has_gb, gb_has_cutoff, gb_cutoff_inclusive, step_inclusive, buried;
    double alpha, beta, gamma, gb_cutoff, pair_shift;
    const double *rho, *inv_rho, *inv_radius, *self_coef, *ace_coef; /* (N,) */
    const double *rho_own, *s_other, *s2_other;                      /* (2, P) */
    const double *kq;                                                /* (P,) */
} Params;

static inline double dot3(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static inline void cross3(const double *a, const double *b, double *out) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static inline void sub3(const double *a, const double *b, double *out) {
    out[0] = a[0] - b[0];
    out[1] = a[1] - b[1];
    out[2] = a[2] - b[2];
}

static inline void add_scaled(double *f, double c, const double *v) {
    f[0] += c * v[0];
    f[1] += c * v[1];
    f[2] += c * v[2];
}

static double bonded(const Params *p, const double *x, double *f) {
    double e = 0.0, d[3];
    for (int64_t b = 0; b < p->n_bonds; b++) {
        int64_t i = p->bond_i[b], j = p->bond_j[b];
        sub3(x + 3 * j, x + 3 * i, d);
        double r = sqrt(dot3(d, d)), dr = r - p->bond_r0[b];
        e += 0.5 * p->bond_k[b] * dr * dr;
        if (f) {
            double c = p->bond_k[b] * dr / r; /* force on i along d; j gets the opposite */
            add_scaled(f + 3 * i, c, d);
            add_scaled(f + 3 * j, -c, d);
        }
    }
    for (int64_t a = 0; a < p->n_angles; a++) {
        int64_t i = p->angle_i[a], j = p->angle_j[a], k = p->angle_k_idx[a];
        double u[3], v[3];
        sub3(x + 3 * i, x + 3 * j, u);
        sub3(x + 3 * k, x + 3 * j, v);
        double uu = dot3(u, u), vv = dot3(v, v);
        double cs = dot3(u, v) * (1.0 / sqrt(uu * vv));
        cs = cs < -1.0 ? -1.0 : (cs > 1.0 ? 1.0 : cs);
        double dtheta = acos(cs) - p->angle_theta0[a];
        e += 0.5 * p->angle_k[a] * dtheta * dtheta;
        if (f) {
            double pp[3], up[3], vp[3];
            cross3(u, v, pp);
            double pn = sqrt(dot3(pp, pp));
            pn = pn < 1e-6 ? 1e-6 : pn; /* OpenMM's floor for (nearly) linear angles */
            double de = p->angle_k[a] * dtheta / pn;
            cross3(u, pp, up);
            cross3(v, pp, vp);
            double c1 = -de / uu, c3 = de / vv;
            add_scaled(f + 3 * i, c1, up);
            add_scaled(f + 3 * k, c3, vp);
            add_scaled(f + 3 * j, -c1, up);
            add_scaled(f + 3 * j, -c3, vp);
        }
    }
    int64_t nt = p->n_torsions;
    for (int64_t t = 0; t < nt; t++) {
        int64_t a0 = p->tors_atoms[t], a1 = p->tors_atoms[nt + t], a2 = p->tors_atoms[2 * nt + t], a3 = p->tors_atoms[3 * nt + t];
        double b1[3], b2[3], b3[3], n1[3], n2[3];
        sub3(x + 3 * a1, x + 3 * a0, b1);
        sub3(x + 3 * a2, x + 3 * a1, b2);
        sub3(x + 3 * a3, x + 3 * a2, b3);
        cross3(b1, b2, n1);
        cross3(b2, b3, n2);
        double bb = dot3(b2, b2), b2n = sqrt(bb);
        double phi = atan2(b2n * dot3(b1, n2), dot3(n1, n2));
        double arg = p->tors_n[t] * phi - p->tors_phase[t];
        e += p->tors_k[t] * (1.0 + cos(arg));
        if (f) {
            double minus_de = p->tors_k[t] * p->tors_n[t] * sin(arg);
            double c1 = -minus_de * b2n / dot3(n1, n1), c4 = minus_de * b2n / dot3(n2, n2);
            double s1 = dot3(b1, b2) / bb, s3 = dot3(b3, b2) / bb;
            for (int c = 0; c < 3; c++) {
                double f1 = c1 * n1[c], f4 = c4 * n2[c];
                f[3 * a0 + c] += f1;
                f[3 * a1 + c] += s3 * f4 - (s1 + 1.0) * f1;
                f[3 * a2 + c] += s1 * f1 - (s3 + 1.0) * f4;
                f[3 * a3 + c] += f4;
            }
        }
    }
    return e;
}

/* OBC's h(r; rho, s) of one direction of a pair and dh/dr, masked by ``on`` (see torch_terms._born_integral). */
static inline double born_h(const Params *p, double r, double inv_r, double rho, double s, double s2, double keep,
                            double *dh_out) {
    double U = r + s;
    double on = (p->step_inclusive ? (U >= rho) : (U > rho)) ? keep : 0.0;
    double rms = r - s, amd = fabs(rms);
    double L = amd > rho ? amd : rho;
    double u = 1.0 / U, l = 1.0 / L;
    double log_lu = log(L * u);
    double t = r - s2 * inv_r, a = l - u, upl = u + l;
    double h = 0.5 * a * (1.0 - 0.25 * t * upl) + 0.25 * log_lu * inv_r;
    double inside = 0.0;
    if (p->buried) {
        inside = (rho < s - r) ? 1.0 : 0.0;
        h += inside * (1.0 / rho - l);
    }
    if (dh_out) {
        double dL = (rms > 0.0 ? 1.0 : (rms < 0.0 ? -1.0 : 0.0)) * (amd > rho ? 1.0 : 0.0);
        double u2 = u * u, l2 = l * l, dl2 = dL * l2;
        double dh = 0.5 * (u2 - dl2) - 0.125 * (1.0 + s2 * inv_r * inv_r) * a * upl + 0.25 * t * (dl2 * l - u2 * u) +
                    0.25 * inv_r * (dL * l - u - log_lu * inv_r);
        if (p->buried) dh += inside * dl2;
        *dh_out = dh * on;
    }
    return h * on;
}

static inline double gb_keep(const Params *p, double r) {
    if (!p->gb_has_cutoff) return 1.0;
    return (p->gb_cutoff_inclusive ? (r <= p->gb_cutoff) : (r < p->gb_cutoff)) ? 1.0 : 0.0;
}

/* LJ + Coulomb of pair k: returns its energy, sets g = -dE/dr / r. */
static inline double lj_coulomb(const Params *p, int64_t k, double r2, double inv_r, double *g) {
    double inv_r2 = inv_r * inv_r, inv_r6 = inv_r2 * inv_r2 * inv_r2, q_r = p->qq[k] * inv_r;
    double e = inv_r6 * (p->c12[k] * inv_r6 - p->c6[k]) + q_r;
    double gg = inv_r2 * (inv_r6 * (12.0 * p->c12[k] * inv_r6 - 6.0 * p->c6[k]) + q_r);
    if (p->qq_crf) e -= p->qq_crf[k];
    if (p->qq_krf) {
        e += p->qq_krf[k] * r2;
        gg -= 2.0 * p->qq_krf[k];
    }
    if (p->nb_cutoff2) {
        double within = (r2 <= p->nb_cutoff2[k]) ? 1.0 : 0.0;
        e *= within;
        gg *= within;
    }
    *g = gg;
    return e;
}

/* Workspace of one thread: per atom (6 N) and per pair (3 P). */
static double pairs(const Params *p, const double *x, double *f, double *ws) {
    int64_t n = p->n_atoms, np = p->n_pairs;
    double e = 0.0, d[3];
    if (!p->has_gb) {
        for (int64_t k = 0; k < np; k++) {
            int64_t i = p->pair_i[k], j = p->pair_j[k];
            sub3(x + 3 * j, x + 3 * i, d);
            double r2 = dot3(d, d), inv_r = 1.0 / sqrt(r2), g;
            e += lj_coulomb(p, k, r2, inv_r, &g);
            if (f) {
                add_scaled(f + 3 * j, g, d);
                add_scaled(f + 3 * i, -g, d);
            }
        }
        return e;
    }
    double *born_sum = ws, *born = ws + n, *th = ws + 2 * n, *psi = ws + 3 * n, *de_db = ws + 4 * n, *c = ws + 5 * n;
    double *dh0 = ws + 6 * n, *dh1 = dh0 + np, *gk = dh1 + np;
    for (int64_t a = 0; a < n; a++) born_sum[a] = 0.0;
    /* Born sums: both directions of every pair (row 0 from atom i with s_j, row 1 from atom j with s_i). */
    for (int64_t k = 0; k < np; k++) {
        int64_t i = p->pair_i[k], j = p->pair_j[k];
        sub3(x + 3 * j, x + 3 * i, d);
        double r2 = dot3(d, d), inv_r = 1.0 / sqrt(r2), r = r2 * inv_r, keep = gb_keep(p, r);
        born_sum[i] += born_h(p, r, inv_r, p->rho_own[k], p->s_other[k], p->s2_other[k], keep, f ? dh0 + k : NULL);
        born_sum[j] += born_h(p, r, inv_r, p->rho_own[np + k], p->s_other[np + k], p->s2_other[np + k], keep,
                              f ? dh1 + k : NULL);
    }
    for (int64_t a = 0; a < n; a++) {
        double ps = born_sum[a] * p->rho[a];
        double t = tanh(ps * (p->alpha + ps * (p->gamma * ps - p->beta)));
        double b = 1.0 / (p->inv_rho[a] - t * p->inv_radius[a]);
        double inv_b = 1.0 / b, inv_b2 = inv_b * inv_b;
        double ace = p->ace_coef[a] * (inv_b2 * inv_b2 * inv_b2);
        e += p->self_coef[a] * inv_b + ace;
        psi[a] = ps;
        th[a] = t;
        born[a] = b;
        de_db[a] = -(p->self_coef[a] * inv_b + 6.0 * ace) * inv_b;
    }
    /* LJ, Coulomb and the polar GB pair term; dE/dB of both atoms. */
    for (int64_t k = 0; k < np; k++) {
        int64_t i = p->pair_i[k], j = p->pair_j[k];
        sub3(x + 3 * j, x + 3 * i, d);
        double r2 = dot3(d, d), inv_r = 1.0 / sqrt(r2), r = r2 * inv_r, keep = gb_keep(p, r), g;
        e += lj_coulomb(p, k, r2, inv_r, &g);
        double b_i = born[i], b_j = born[j], bb = b_i * b_j;
        double q4 = 0.25 * r2 / bb, ex = exp(-q4), f2 = r2 + bb * ex, inv_f = 1.0 / sqrt(f2);
        e += p->kq[k] * (inv_f - p->pair_shift) * keep;
        if (f) {
            double kf3 = p->kq[k] * inv_f / f2 * keep;
            g += kf3 * (1.0 - 0.25 * ex);
            double w = -0.5 * kf3 * ex * (1.0 + q4);
            de_db[i] += w * b_j;
            de_db[j] += w * b_i;
            gk[k] = g;
        }
    }
    if (!f) return e;
    for (int64_t a = 0; a < n; a++) {
        double dz = p->alpha + psi[a] * (3.0 * p->gamma * psi[a] - 2.0 * p->beta);
        c[a] = de_db[a] * born[a] * born[a] * p->inv_radius[a] * (1.0 - th[a] * th[a]) * dz * p->rho[a];
    }
    /* Forces: explicit r-dependence plus the chain rule through both Born radii. */
    for (int64_t k = 0; k < np; k++) {
        int64_t i = p->pair_i[k], j = p->pair_j[k];
        sub3(x + 3 * j, x + 3 * i, d);
        double inv_r = 1.0 / sqrt(dot3(d, d));
        double g = gk[k] - (c[i] * dh0[k] + c[j] * dh1[k]) * inv_r;
        add_scaled(f + 3 * j, g, d);
        add_scaled(f + 3 * i, -g, d);
    }
    return e;
}

/* Energies (B,) in kJ/mol and, if ``forces`` is not NULL, forces (B, N, 3) in kJ/mol/nm of positions (B, N, 3) in nm.
 * A conformation without a finite energy gets +inf and zero forces, one with a non-finite force zero forces
 * (OpenMM's handling, as TorchEnergy._finish does for the torch kernel).
 * Returns the number of conformations without a finite energy, or -1 if a workspace could not be allocated. */
int64_t bgbench_energy(const Params *p, int64_t batch, const double *positions, double *energies, double *forces,
                       int32_t threads) {
    int64_t n = p->n_atoms, stride = 3 * n;
    int64_t ws_size = 6 * n + 3 * p->n_pairs + 1;
    int64_t n_bad = 0;
    int failed = 0;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        double *ws = (double *)malloc(sizeof(double) * ws_size);
        if (!ws) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < batch; b++) {
            if (!ws) continue;
            const double *x = positions + b * stride;
            double *f = forces ? forces + b * stride : NULL;
            if (f)
                for (int64_t a = 0; a < stride; a++) f[a] = 0.0;
            double e = bonded(p, x, f);
            if (p->n_pairs) e += pairs(p, x, f, ws);
            int bad = !isfinite(e), zero = bad;
            if (f && !zero)
                for (int64_t a = 0; a < stride; a++)
                    if (!isfinite(f[a])) {
                        zero = 1;
                        break;
                    }
            if (f && zero)
                for (int64_t a = 0; a < stride; a++) f[a] = 0.0;
            energies[b] = bad ? INFINITY : e;
            if (bad) {
#pragma omp atomic
                n_bad += 1;
            }
        }
        free(ws);
    }
    return failed ? -1 : n_bad;
}
