"""Quick-tier data made on demand: what a run needs and lacks, how long it takes, then making it.

Why: the first command a newcomer types is ``bgbench run``; it should not stop at "run `bgbench
data prepare` first" when the harness can make that data itself. Before any MD starts the user
sees one line saying what is made and roughly how long it takes: the size of every replica plan
(MD steps plus minimiser iterations) divided by steps per second measured just now on this
machine for each system, times the number of MD processes. Paper-tier data is downloaded, never
made here: its absence stays an error with the command that fetches it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.corpus import corpus_spec
from benchmark.data.corpus_md import CORPUS_MD, CORPUS_SEED, corpus_is_current, corpus_sequences, prepare_corpus
from benchmark.data.generate import is_current, plan_for, prepare_system
from benchmark.data.replica_md import ReplicaPlan, measure_steps_per_second
from benchmark.systems import SystemSpec
from benchmark.tasks.registry import Task


@dataclass(frozen=True)
class Job:
    """One missing piece of quick data: a system's reference, or the training corpus."""

    label: str  # e.g. "ALDP Ace-A-Nme" or "training corpus (28 peptides)"
    corpus: bool  # the training corpus, else one system's reference
    parts: tuple[tuple[SystemSpec, ReplicaPlan], ...]  # the systems it simulates and their replica plans

    @property
    def steps(self) -> int:
        return sum(plan.work_steps for _, plan in self.parts)


def corpus_job(tier: str) -> Job:
    """Making the tier's training corpus, as a job."""
    seqs = corpus_sequences()
    # every residue of a zwitterion has a phi or a psi (backbone_residues), so no build is needed to count them
    parts = tuple((corpus_spec(s), ReplicaPlan.for_splits(CORPUS_MD, len(s), CORPUS_SEED, "corpus", s)) for s in seqs)
    return Job(f"{tier} training corpus ({len(seqs)} peptides)", True, parts)


def missing_jobs(task: Task, tier: str, systems: Sequence[SystemSpec], root: Path | None = None,
                 corpus: bool = True) -> list[Job]:
    """The quick data ``systems`` of ``task`` need and the cache lacks (or holds stale or corrupt); [] for published data.

    ``corpus``: include a transferable task's training corpus. Only a method that trains on it needs
    it; an in-process run leaves it to ``ensure_quick_corpus`` when the method first asks for it.
    """
    md = task.protocol(tier).local_md
    if md is None:
        return []
    jobs = []
    if corpus and task.transferable and not corpus_is_current(tier, root):
        jobs.append(corpus_job(tier))
    for spec in systems:
        if not is_current(task, tier, spec, root):
            jobs.append(Job(f"{task.name} {spec.name}", False, ((spec, plan_for(task, tier, spec, seed=0)),)))
    return jobs


def _size(spec: SystemSpec) -> int:
    """Residues, caps included: a proxy for the atom count that needs no build (28 corpus builds take half a minute)."""
    return len(spec.sequence) + (2 if spec.termini == "capped" else 0)


def estimate_seconds(jobs: Sequence[Job], workers: int, rate: Callable[[SystemSpec], float] = measure_steps_per_second) -> float:
    """Wall seconds to make ``jobs`` with ``workers`` MD processes, from steps/s measured once per job.

    The rate is measured on the job's largest system and scaled to the others by the square of
    their size (every force term is all-pairs: no cutoff, GBSA), so the 28 corpus peptides cost one
    measurement. A plan of R replicas keeps min(R, workers) processes busy. The rate is that of the
    openmm-reference backend (every quick protocol's); a plan on the batched torch backend would need its own.
    """
    total = 0.0
    for job in jobs:
        largest = max(job.parts, key=lambda part: _size(part[0]))[0]
        measured = rate(largest)
        for spec, plan in job.parts:
            per_worker = measured * (_size(largest) / _size(spec)) ** 2
            total += plan.work_steps / (per_worker * min(max(1, workers), plan.n_replicas))
    return total


def describe_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def notice(subject: str, tier: str, jobs: Sequence[Job], seconds: float, workers: int) -> str:
    """The one line shown before the MD starts (``subject``: whose data, e.g. a task name)."""
    what = "; ".join(job.label for job in jobs)
    steps = sum(job.steps for job in jobs)
    return (f"Making the missing {tier}-tier data of {subject} by replica MD ({what}; {steps:,} steps on "
            f"{workers} process{'es' * (workers != 1)}): about {describe_duration(seconds)} on this machine now. "
            f"It is cached for later runs; --no-prepare stops here instead.")


def prepare_jobs(task: Task, tier: str, jobs: Sequence[Job], root: Path | None = None, workers: int | None = None,
                 progress: bool = True) -> list[Path]:
    """Make ``jobs`` (the corpus first: a transferable task's reference scale comes from it); returns their folders."""
    folders = []
    for job in jobs:
        if job.corpus:
            folders.append(prepare_corpus(tier, root, progress=progress, workers=workers))
        else:
            folders.append(prepare_system(task, tier, job.parts[0][0], root, progress=progress, workers=workers))
    return folders


def ensure_quick_data(task: Task, tier: str, systems: Sequence[SystemSpec], root: Path | None = None,
                      workers: int = 1, progress: bool = True, say: Callable[[str], None] = print,
                      rate: Callable[[SystemSpec], float] = measure_steps_per_second, corpus: bool = True) -> list[Path]:
    """Make whatever quick data the run lacks, after saying what and how long; returns the folders made."""
    jobs = missing_jobs(task, tier, systems, root, corpus=corpus)
    if not jobs:
        return []
    say(notice(task.name, tier, jobs, estimate_seconds(jobs, workers, rate), workers))
    return prepare_jobs(task, tier, jobs, root, workers, progress)


def ensure_quick_corpus(tier: str, root: Path | None = None, workers: int = 1, progress: bool = True,
                        say: Callable[[str], None] = print,
                        rate: Callable[[SystemSpec], float] = measure_steps_per_second) -> Path | None:
    """Make the quick training corpus when a method asks for it and it is missing (same notice as above)."""
    if tier != "quick" or corpus_is_current(tier, root):
        return None
    job = corpus_job(tier)
    say(notice("the transferable tasks", tier, [job], estimate_seconds([job], workers, rate), workers))
    return prepare_corpus(tier, root, progress=progress, workers=workers)


__all__ = ["Job", "corpus_job", "describe_duration", "ensure_quick_corpus", "ensure_quick_data", "estimate_seconds",
           "missing_jobs", "notice", "prepare_jobs"]
