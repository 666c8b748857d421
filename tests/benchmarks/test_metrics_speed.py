"""Speed and memory of the metric suite: one 8AA system, 10^4 vs 10^4 synthetic conformations, 2 cores.

Run:  .venv/bin/python -m pytest tests/benchmarks/test_metrics_speed.py -m benchmark --benchmark-enable -s
Each test prints wall time and the process's peak RSS (run one test per process for a clean peak:
add ``-k suite`` or ``-k naive``). Energies are synthetic here: E_target evaluation is the energy
module's cost (tests/benchmarks of benchmark/energy), not the metrics'.

Measured 2026-11-21 on the quiet 2-core build machine after cache-sized cost blocks: full suite 56.1 s,
peak process RSS 1642 MB (569 MB before the suite started). Earlier, under load average 2.5-5 from other jobs:
full suite 8AA ANKSMIEA 10^4 vs 10^4 76.8 s, peak process RSS 1617 MB, of which 572 MB were there before
the suite started (imports, inputs, TICA fit); naive (n, m, d) torus cost at 10^4 would be 10.4 GiB before POT's
own ~9.6 GB, so it does not fit; at n = 2000 naive broadcast + ot.emd2 13.9 s vs 3.5 s here, same value.
"""

from __future__ import annotations

import math
import resource
import time

import numpy as np
import ot
import pytest

from benchmark.metrics import featurize, fit_tica, set_metrics, tica_features
from benchmark.metrics.wasserstein import exact_ot_cost, squared_cost_matrix
from benchmark.tasks import get_task

pytestmark = pytest.mark.benchmark
N = 10_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _conformations(system, n: int, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = system.minimized_positions
    return base[None] + rng.normal(scale=scale, size=(n, system.n_atoms, 3))


@pytest.fixture(scope="module")
def system():
    return get_task("8AA").systems[0].build()


def test_full_metric_suite_8aa_10k(benchmark, system):
    ref_x = _conformations(system, N, 0.02, 0)
    gen_x = _conformations(system, N, 0.03, 1)
    rng = np.random.default_rng(2)
    ref_e, gen_e = rng.normal(-300, 10, N), rng.normal(-295, 12, N)
    tica = fit_tica(tica_features(_conformations(system, 2_000, 0.02, 3), system))
    before = _peak_rss_mb()

    def run():
        ref = featurize(ref_x, ref_e, system, tica)
        gen = featurize(gen_x, gen_e, system, tica)
        return set_metrics(ref, gen, log_weights=rng.normal(size=N))

    start = time.perf_counter()
    out = benchmark.pedantic(run, rounds=1, iterations=1)
    elapsed = time.perf_counter() - start
    peak = _peak_rss_mb()
    benchmark.extra_info.update(wall_s=elapsed, peak_rss_mb=peak, rss_before_mb=before)
    print(f"\n8AA {system.name} {N} vs {N}: {elapsed:.1f} s, peak RSS {peak:.0f} MB (before {before:.0f} MB)")
    print({k: round(v, 4) for k, v in out.items()})
    assert out["num-eval-samples"] == N and math.isfinite(out["torus-w2"])


def test_naive_broadcast_torus_cost_where_it_fits(benchmark, system):
    """The reference's (n, m, d) broadcast + POT network simplex, at the largest size that fits here."""
    n = 2_000
    from benchmark.metrics import torus_angles

    a = torus_angles(_conformations(system, n, 0.02, 0), system)
    b = torus_angles(_conformations(system, n, 0.03, 1), system)
    naive_bytes_at_10k = N * N * a.shape[1] * 8
    print(f"\nnaive (n, m, d) float64 array at 10^4 vs 10^4 for {system.name}: {naive_bytes_at_10k / 2**30:.1f} GiB")

    def run():
        d = np.abs(a[:, None, :] - b[None, :, :])
        cost = (np.minimum(d, 2 * np.pi - d) ** 2).sum(-1)
        return math.sqrt(ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), cost, numItermax=10**9))

    start = time.perf_counter()
    naive = benchmark.pedantic(run, rounds=1, iterations=1)
    t_naive = time.perf_counter() - start
    start = time.perf_counter()
    ours = math.sqrt(exact_ot_cost(squared_cost_matrix(a, b, period=2 * np.pi)))
    t_ours = time.perf_counter() - start
    print(f"n={n}: naive broadcast + ot.emd2 {t_naive:.1f} s, chunked + exact sparse OT {t_ours:.1f} s, "
          f"torus-w2 {naive:.6f} vs {ours:.6f}, peak RSS {_peak_rss_mb():.0f} MB")
    assert ours == pytest.approx(naive, rel=1e-9)
