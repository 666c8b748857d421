"""Protocols: how a task is evaluated in one tier (samples, budgets, metrics, seeds, data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

TIERS = ("paper", "quick")

#: The metrics every table shows first (the papers' E-W2, T-W2 and TICA-W2).
HEADLINE_METRICS = ("energy-w2", "torus-w2", "tica-w2")
#: Everything the evaluator reports per sample set (specs/flows-and-protocol.md section 2.5).
ALL_METRICS = HEADLINE_METRICS + (
    "effective-sample-size",
    "energy-w1",
    "mean-energy",
    "median-energy",
    "tica-k-jsd",
    "torus-k-jsd",
)


@dataclass(frozen=True)
class LocalMD:
    """How quick-tier reference data is simulated locally (one trajectory per system)."""

    length_ns: float  # recorded length, after warm-up
    frame_interval_steps: int  # MD steps between saved frames (1 fs each)
    warmup_steps: int
    split_fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)  # contiguous train / val / test blocks

    @property
    def n_frames(self) -> int:
        return int(round(self.length_ns * 1e6 / self.frame_interval_steps))


@dataclass(frozen=True)
class Protocol:
    """The evaluation protocol of one task in one tier."""

    tier: str
    n_eval_samples: int  # reference and generated sets are cut to this many before metrics
    budgets: tuple[int, ...]  # energy evaluations per system; the first is the default
    seeds: tuple[int, ...]
    metrics: tuple[str, ...] = HEADLINE_METRICS
    systems: tuple[str, ...] | None = None  # subset of the task's systems; None means all
    reference: str = "published"  # "published" (downloaded) or "local-md" (generated here)
    local_md: LocalMD | None = None
    source: str = ""  # where the numbers come from

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}")
        if not self.budgets or any(b <= 0 for b in self.budgets):
            raise ValueError("budgets must be positive")
        if (self.reference == "local-md") != (self.local_md is not None):
            raise ValueError("local_md settings are required exactly when reference == 'local-md'")

    @property
    def default_budget(self) -> int:
        return self.budgets[0]

    def to_dict(self) -> dict:
        return asdict(self)
