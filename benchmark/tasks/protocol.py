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


#: Start basins of local MD replicas (benchmark/data/starts.py). alpha_L is left out by default:
#: a replica started there stays there for far longer than a quick-tier replica runs.
DEFAULT_STARTS = ("alpha_R", "beta", "PII")


@dataclass(frozen=True)
class LocalMD:
    """How quick-tier reference data is simulated locally: independent MD replicas, disjoint between splits.

    Every replica starts from the built structure with its backbone dihedrals set to one of
    ``starts`` (briefly minimised), runs ``warmup_steps`` that are discarded, then records
    ``frames_per_replica`` frames every ``frame_interval_steps`` steps (1 fs each). ``replicas``
    counts the replicas of the train, validation and test splits: no replica contributes to two
    splits, so the splits are independent samples.

    The warm-up runs at ``warmup_friction_per_ps``: a minimised start has almost no potential energy,
    and at the tasks' low frictions (0.3-1 / ps) the bath gives back the kinetic energy the potential
    takes only over a few ps, so replicas would begin cold. Langevin dynamics keeps the Boltzmann
    distribution at any friction, so the warm-up couples harder (time constant 1 / (2 gamma) = 0.1 ps
    at 5 / ps); the recorded frames use the task's friction.
    """

    replicas: tuple[int, int, int]  # train / val / test
    frames_per_replica: int
    frame_interval_steps: int
    warmup_steps: int
    starts: tuple[str, ...] = DEFAULT_STARTS
    backend: str = "openmm-reference"  # what integrates the MD (benchmark/data/replica_md.py)
    warmup_friction_per_ps: float = 5.0

    @property
    def n_replicas(self) -> int:
        return sum(self.replicas)

    @property
    def n_frames(self) -> int:
        return self.n_replicas * self.frames_per_replica

    @property
    def replica_ps(self) -> float:
        """Recorded length of one replica, ps (1 fs steps)."""
        return self.frames_per_replica * self.frame_interval_steps / 1000.0

    @property
    def total_steps(self) -> int:
        """MD steps of the whole data set, warm-ups included (what generation time scales with)."""
        return self.n_replicas * (self.warmup_steps + self.frames_per_replica * self.frame_interval_steps)


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
