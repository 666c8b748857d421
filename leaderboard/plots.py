"""Matplotlib figures for the site: energy histograms, Ramachandran plots, TICA densities, budget curves.

All functions write a PNG to ``path`` and close their figure (the site may render hundreds). Every
title and label that can come from a record goes through ``plot_text``: one line, no mathtext
(``$``), and no leading underscore (matplotlib hides such legend entries).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SET_COLORS = {"reference": "#444444", "proposal": "#1f77b4", "resampled": "#d62728", "smc": "#2ca02c", "md": "#9467bd", "samples": "#ff7f0e"}
DPI = 90


def plot_text(text: object, limit: int = 80) -> str:
    """A record string made safe for a matplotlib title or label."""
    out = " ".join(str(text).split()).replace("$", r"\$")
    out = out[:limit] + ("…" if len(out) > limit else "")
    return " " + out if out.startswith("_") else out


def _save(fig, path: Path, left: float = 0.65, right: float = 0.15, bottom: float = 0.5, top: float = 0.4, wspace: float = 0.08) -> None:
    """Fixed margins in inches instead of tight_layout (which measured a third of the site's build time)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h, wspace=wspace)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


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
        label = plot_text(f"{name} (n={len(values)}" + (f", {off:.0%} off-scale)" if off > 0 else ")"), 50)
        weights = np.full(len(inside), 1.0 / (len(values) * (bins[1] - bins[0])))
        ax.hist(inside, bins=bins, weights=weights, histtype="step", lw=1.6, color=SET_COLORS.get(name), label=label)
    ax.set_xlabel("energy [kT]")
    ax.set_ylabel("density [1/kT]")
    ax.set_title(plot_text(title), fontsize=10)
    ax.legend(fontsize=8)
    _save(fig, path, left=0.8)
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
        ax.set_title(plot_text(f"{name} (n={len(xy)})", 40), fontsize=9)
        ax.set_xlabel(labels[0])
    axes[0][0].set_ylabel(labels[1])
    fig.suptitle(plot_text(title), fontsize=10)
    _save(fig, path, left=0.8, top=0.6)
    return Path(path)


def ramachandran(sets: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One log-density panel of (phi, psi) per sample set, on the full torus."""
    return _density_panels(sets, path, title, ("φ [rad]", "ψ [rad]"), (-np.pi, np.pi, -np.pi, np.pi))


def tica_density(sets: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One log-density panel of the first two TICA components per sample set, on a shared range."""
    return _density_panels(sets, path, title, ("TIC 1", "TIC 2"), None)


def budget_curves(panels: list[dict], path: Path, title: str) -> Path:
    """Metrics against energy evaluations (log x), one panel per metric, one line per entry.

    ``panels`` items: {"ylabel", "series", "floor"}; ``series`` items: {"label", "points": [(evaluations,
    mean, std or None)], "kind"}. Kind "md" is the baseline (thick dashed grey), "published" points are
    hollow and dotted. ``floor`` draws the noise floor: values below it are indistinguishable from the
    reference itself.
    """
    style = {"md": dict(color="#555555", lw=2.4, ls="--", marker="s"),
             "published": dict(ls=":", marker="o", mfc="none"),
             "method": dict(marker="o")}
    labels = sorted({(s["kind"] != "md", s["label"]) for p in panels for s in p["series"]})
    colors = {label: f"C{i % 10}" for i, (_, label) in enumerate(labels)}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.7 * len(panels), 3.6), squeeze=False)
    handles: dict[str, object] = {}
    for ax, panel in zip(axes[0], panels):
        for item in sorted(panel["series"], key=lambda s: (s["kind"] != "md", s["label"])):
            points = sorted(item["points"])
            kw = {"color": colors[item["label"]], **style.get(item["kind"], style["method"])}
            h = ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] or 0.0 for p in points], capsize=3, **kw)
            handles.setdefault(plot_text(item["label"], 40) + (" (MD baseline)" if item["kind"] == "md" else ""), h)
        values = [p[1] for s in panel["series"] for p in s["points"]]
        wide = bool(values) and min(values) > 0 and max(values) / min(values) > 50  # e.g. one outlier method
        if panel.get("floor") is not None:
            h = ax.axhline(panel["floor"], color="#c0392b", lw=1.2, ls="-.")
            if not wide:
                ax.axhspan(0, panel["floor"], color="#c0392b", alpha=0.06)
            handles.setdefault("noise floor", h)
        ax.set_xscale("log")
        if wide:
            ax.set_yscale("log")
        ax.set_xlabel("energy evaluations per system")
        ax.set_ylabel(plot_text(panel["ylabel"]))
    fig.suptitle(plot_text(title, 120), fontsize=10)
    rows = -(-len(handles) // 4)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(4, len(handles)), fontsize=7, frameon=False)
    _save(fig, path, left=0.8, bottom=0.7 + 0.18 * rows, top=0.4, wspace=0.4)
    return Path(path)
