"""Matplotlib figures for the site: energy histograms, Ramachandran plots, TICA densities, budget curves.

All functions write a PNG to ``path`` and close their figure (the site may render hundreds).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SET_COLORS = {"reference": "#444444", "proposal": "#1f77b4", "resampled": "#d62728", "smc": "#2ca02c", "md": "#9467bd", "samples": "#ff7f0e"}
DPI = 90


def _order(sets: dict[str, np.ndarray]) -> list[str]:
    first = [s for s in ("reference", "proposal") if s in sets]
    return first + sorted(set(sets) - set(first))


def energy_histogram(sets: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """Overlaid energy densities; the range follows the reference so outlying proposals do not squash it."""
    ref = sets.get("reference")
    pool = ref if ref is not None and len(ref) else np.concatenate([v for v in sets.values() if len(v)])
    lo, hi = np.percentile(pool, [0.5, 99.5])
    pad = 0.25 * (hi - lo) + 1e-9
    bins = np.linspace(lo - pad, hi + pad, 60)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name in _order(sets):
        values = sets[name]
        if not len(values):
            continue
        # Off-scale samples are left out (not piled into the edge bins) and counted in the label;
        # the weights keep the area equal to the fraction of samples shown.
        inside = values[(values >= bins[0]) & (values <= bins[-1])]
        off = 1.0 - len(inside) / len(values)
        label = f"{name} (n={len(values)}" + (f", {off:.0%} off-scale)" if off > 0 else ")")
        weights = np.full(len(inside), 1.0 / (len(values) * (bins[1] - bins[0])))
        ax.hist(inside, bins=bins, weights=weights, histtype="step", lw=1.6, color=SET_COLORS.get(name), label=label)
    ax.set_xlabel("energy / kT")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def _density_panels(sets: dict[str, np.ndarray], path: Path, title: str, labels: tuple[str, str], extent: tuple | None) -> Path:
    names = [n for n in _order(sets) if len(sets[n])]
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.0), squeeze=False, sharex=True, sharey=True)
    if extent is None:
        pool = np.concatenate([sets[n] for n in names])
        lo, hi = np.percentile(pool, [0.5, 99.5], axis=0)
        extent = (lo[0], hi[0], lo[1], hi[1])
    for ax, name in zip(axes[0], names):
        xy = sets[name]
        ax.hist2d(xy[:, 0], xy[:, 1], bins=50, range=[extent[:2], extent[2:]], cmap="viridis", norm=matplotlib.colors.LogNorm())
        ax.set_title(f"{name} (n={len(xy)})", fontsize=9)
        ax.set_xlabel(labels[0])
    axes[0][0].set_ylabel(labels[1])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def ramachandran(sets: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One log-density panel of (phi, psi) per sample set, on the full torus."""
    return _density_panels(sets, path, title, ("φ / rad", "ψ / rad"), (-np.pi, np.pi, -np.pi, np.pi))


def tica_density(sets: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One log-density panel of the first two TICA components per sample set, on a shared range."""
    return _density_panels(sets, path, title, ("TIC 1", "TIC 2"), None)


def budget_curve(series: dict[str, list[tuple[int, float, float | None]]], path: Path, title: str, ylabel: str) -> Path:
    """Metric against energy budget (log x), one line per entry, error bars where seeds give a spread."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for label, points in sorted(series.items()):
        points = sorted(points)
        x = [p[0] for p in points]
        y = [p[1] for p in points]
        err = [p[2] or 0.0 for p in points]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("energy evaluations per system")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)
