"""The eight bgbench tasks: pure data (systems, training data, a protocol per tier).

Paper-tier numbers and where they come from:

* Evaluation samples: 10 000 for every task (the evaluator default of transferable-samplers and
  ARBG for single systems, specs/flows-and-protocol.md 2.2, autoregressive.md 8.1). The ROBIN
  evaluation script used 5 000 for the transferable sets (autoregressive.md 8.2); bgbench keeps
  the upstream 10 000 so that all methods are scored alike.
* Budgets: single systems 2 x 10^5 energy evaluations, the ARBG Table 1 / A.3 proposal count
  (autoregressive.md 8.2: the caption's 2 x 10^9 is a typo). 4AA and 8AA: 10^4 and 2 x 10^5
  (ARBG Table 2, top and bottom). 2AA: 10^4 (Prose Table 2, ECNF++ SNIS on 2AA,
  flows-and-protocol.md 6).
* Seeds: 42, 123, 456, 789, 1024, the five seeds of the transferable-samplers benchmarks
  (flows-and-protocol.md 2.9).

Quick-tier numbers are bgbench's own choice, sized so that one method on one task runs in
minutes on 2 CPU cores; data_cards/ say what they mean and what they do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.errors import UnknownNameError
from benchmark.systems import AMBER14_OBC1, AMBER99SBILDN_OBC, CAPPED, ZWITTERION, SystemSpec
from benchmark.tasks.protocol import TIERS, LocalMD, Protocol
from benchmark.tasks.sequences import TEST_SEQUENCES, VAL_SEQUENCES

PAPER_SEEDS = (42, 123, 456, 789, 1024)
QUICK_SEEDS = (0, 1, 2)
QUICK_EVAL_SAMPLES = 1_000
QUICK_BUDGET = 10_000


@dataclass(frozen=True)
class Task:
    """A named benchmark task: which systems, what training data, and how each tier scores them."""

    name: str
    version: int
    description: str
    systems: tuple[SystemSpec, ...]
    training_data: str  # what a method may train on
    protocols: dict[str, Protocol]
    validation_systems: tuple[SystemSpec, ...] = ()
    transferable: bool = False

    def protocol(self, tier: str) -> Protocol:
        if tier not in self.protocols:
            raise UnknownNameError("tier", tier, self.protocols)
        return self.protocols[tier]

    def systems_for(self, tier: str) -> tuple[SystemSpec, ...]:
        """The systems evaluated in a tier (the quick tier may use a subset)."""
        subset = self.protocol(tier).systems
        if subset is None:
            return self.systems
        by_name = {s.name: s for s in self.systems}
        return tuple(by_name[n] for n in subset)

    def system(self, name: str) -> SystemSpec:
        by_name = {s.name: s for s in self.systems + self.validation_systems}
        if name not in by_name:
            raise UnknownNameError(f"system of task {self.name}", name, by_name)
        return by_name[name]


def _single(name: str, key: str, sequence: str, termini: str, recipe, version: int, description: str, quick_md: LocalMD) -> Task:
    spec = SystemSpec(name=key, sequence=sequence, termini=termini, forcefield=recipe)
    paper = Protocol(
        tier="paper",
        n_eval_samples=10_000,
        budgets=(200_000,),
        seeds=PAPER_SEEDS,
        reference="published",
        source="ARBG Table 1 / A.3 (2e5 proposals); 10 000 evaluation samples; TS benchmark seeds",
    )
    quick = Protocol(
        tier="quick",
        n_eval_samples=QUICK_EVAL_SAMPLES,
        budgets=(QUICK_BUDGET,),
        seeds=QUICK_SEEDS,
        reference="local-md",
        local_md=quick_md,
        source="bgbench quick tier (local OpenMM MD; not comparable with paper numbers)",
    )
    return Task(
        name=name,
        version=version,
        description=description,
        systems=(spec,),
        training_data="train split of the same system's trajectory",
        protocols={"paper": paper, "quick": quick},
    )


def _transfer(length: int, version: int, budgets: tuple[int, ...], source: str, quick_systems: tuple[str, ...], quick_md: LocalMD) -> Task:
    systems = tuple(SystemSpec(s, s, ZWITTERION, AMBER14_OBC1, split="test") for s in TEST_SEQUENCES[length])
    val = tuple(SystemSpec(s, s, ZWITTERION, AMBER14_OBC1, split="val") for s in VAL_SEQUENCES[length])
    paper = Protocol(
        tier="paper", n_eval_samples=10_000, budgets=budgets, seeds=PAPER_SEEDS, reference="published", source=source
    )
    quick = Protocol(
        tier="quick",
        n_eval_samples=QUICK_EVAL_SAMPLES,
        budgets=(QUICK_BUDGET,),
        seeds=QUICK_SEEDS,
        systems=quick_systems,
        reference="local-md",
        local_md=quick_md,
        source="bgbench quick tier (local OpenMM MD of a subset; not comparable with paper numbers)",
    )
    return Task(
        name=f"{length}AA",
        version=version,
        description=f"Transferable: the 30 unseen {length}-residue ManyPeptidesMD test peptides (zwitterions, 310 K)",
        systems=systems,
        validation_systems=val,
        training_data="ManyPeptidesMD training peptides (paper) / the bgbench quick corpus (quick), lengths 2-8",
        protocols={"paper": paper, "quick": quick},
        transferable=True,
    )


def _build_registry() -> dict[str, Task]:
    tasks = [
        _single("ALDP", "Ace-A-Nme", "A", CAPPED, AMBER99SBILDN_OBC.with_friction(1.0), 1,
                "Alanine dipeptide Ace-A-Nme, amber99sbildn + OBC, 300 K",
                LocalMD(replicas=(27, 3, 12), frames_per_replica=500, frame_interval_steps=200, warmup_steps=20_000)),
        _single("AL3", "AAA", "AAA", ZWITTERION, AMBER14_OBC1, 1,
                "Tri-alanine AAA zwitterion, amber14 + OBC1, 310 K",
                LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=10, warmup_steps=2_000)),
        _single("AL4", "Ace-AAA-Nme", "AAA", CAPPED, AMBER99SBILDN_OBC.with_friction(0.3), 1,
                "Alanine tetrapeptide Ace-AAA-Nme, amber99sbildn + OBC, 300 K",
                LocalMD(replicas=(24, 3, 12), frames_per_replica=500, frame_interval_steps=100, warmup_steps=20_000)),
        _single("AL6", "AAAAAA", "AAAAAA", ZWITTERION, AMBER14_OBC1, 1,
                "Hexa-alanine zwitterion, amber14 + OBC1, 310 K",
                LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=8, warmup_steps=1_500)),
        _single("CHIGNOLIN", "GYDPETGTWG", "GYDPETGTWG", ZWITTERION, AMBER14_OBC1, 1,
                "Chignolin variant GYDPETGTWG zwitterion, amber14 + OBC1, 310 K",
                LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=4, warmup_steps=700)),
        _transfer(2, 1, (10_000,), "Prose Table 2 (ECNF++ SNIS 1e4 on 2AA); TS benchmark seeds",
                  ("AA", "KG", "PY"), LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=6, warmup_steps=1_000)),
        _transfer(4, 1, (10_000, 200_000), "ARBG Table 2 (1e4 top, 2e5 bottom); TS benchmark seeds",
                  ("ARIP", "GGRS"), LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=4, warmup_steps=500)),
        _transfer(8, 1, (10_000, 200_000), "ARBG Table 2 (1e4 top, 2e5 bottom); TS benchmark seeds",
                  ("PGESTAES", "MAPQTIAT"), LocalMD(replicas=(6, 3, 6), frames_per_replica=1000, frame_interval_steps=3, warmup_steps=400)),
    ]
    return {t.name: t for t in tasks}


TASKS: dict[str, Task] = _build_registry()


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str) -> Task:
    """Look a task up by name (case-insensitive); unknown names list the valid ones."""
    if name in TASKS:
        return TASKS[name]
    folded = {k.lower(): v for k, v in TASKS.items()}
    aliases = {"chignolin": "CHIGNOLIN", "alanine-dipeptide": "ALDP"}
    if name.lower() in folded:
        return folded[name.lower()]
    if name.lower() in aliases:
        return TASKS[aliases[name.lower()]]
    raise UnknownNameError("task", name, TASKS)


__all__ = ["TASKS", "TIERS", "Task", "get_task", "task_names"]
