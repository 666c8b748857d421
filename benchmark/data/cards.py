"""Data cards: one Markdown file per dataset, YAML front matter with the machine-readable facts.

Cards are rendered from the task registry (settings) and, where data is cached, its manifest
(hashes, frames, std, basin populations, generation time) and the data itself (folded fraction of
chignolin), so they cannot drift from what the code does. ``card_hashes`` reads the hashes back,
so ``bgbench data info`` can say when local data differs from the card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from benchmark.data import store
from benchmark.data.corpus import corpus_spec, quick_content_hash
from benchmark.data.corpus_md import CORPUS_MD, corpus_sequences, corpus_settings_sha256
from benchmark.data.formats import MANY_REPO, PUBLISHED_TRANSFER_STD, SINGLE_REPO, single_system_name
from benchmark.data.generate import SPLITS
from benchmark.data.reference import load_reference
from benchmark.data.replica_md import START_MINIMIZE_ITERATIONS, START_MINIMIZE_TOLERANCE
from benchmark.errors import DataError
from benchmark.io import atomic_write_text
from benchmark.metrics.noise_floor import SPLIT as FLOOR_SPLIT
from benchmark.metrics.noise_floor import cached_noise_floor
from benchmark.systems import ForceFieldRecipe
from benchmark.tasks import TASKS, Task
from benchmark.tasks.protocol import LocalMD

#: The data cards committed with the code (what `bgbench data info` compares local data with).
CARDS_DIR = Path(__file__).resolve().parents[2] / "data_cards"

SOLVENT = {"amber14-obc1": "implicit, OBC1 generalized Born (implicit/obc1.xml, CustomGBForce)",
           "amber99sbildn-obc": "implicit, OBC GBSA (amber99_obc.xml, GBSAOBCForce)"}
#: Chignolin (GYDPETGTWG) counts as folded when both cross-strand CA-CA distances of its hairpin are short.
FOLD_PAIRS = ((3, 8), (2, 9))  # 1-based residues: D3-T8 and Y2-W9
FOLD_CUTOFF_NM = 0.65

QUICK_LIMITS = """## Limits

- Replicas are short. Basin changes faster than a replica (alpha_R / beta / PII of alanine-like residues,
  tens of ps) are mixed by the many replicas and their warm-up; slower ones are not converged: positive-phi
  states (alpha_L, C7ax) appear only through spontaneous transitions (no replica starts there), and nothing
  as slow as folding is sampled.
- Train, validation and test are disjoint sets of independent replicas with the same start pattern, so they
  are independent samples of the same mixture of start basins; whether that mixture is the Boltzmann
  distribution is only as good as the first point above.
- Numbers measured against this data are **not comparable with paper numbers**; they are for checking a
  method end to end on a small machine and for comparing methods within bgbench's quick tier.
- The hashes are those of double-precision MD on the backend named above, made here with the OpenMM
  version of the manifest. The Reference platform does the same double-precision arithmetic in the same
  order on any CPU, and a killed run resumes to the same bits (tested); that another machine gives these
  exact bytes is expected but has not yet been checked on a second machine (the slow test
  tests/data/test_kill_resume.py checks AL3 against this card). `bgbench data info` says when local data
  differs from them.
"""


def _md_facts(recipe: ForceFieldRecipe) -> dict:
    return {"force_field": list(recipe.files), "solvent_model": SOLVENT.get(recipe.name, recipe.name),
            "nonbonded": f"{recipe.nonbonded_method}" + (f" {recipe.cutoff_nm} nm" if recipe.cutoff_nm else ""),
            "temperature_K": recipe.temperature_K,
            "integrator": {"type": "LangevinMiddleIntegrator", "friction_per_ps": recipe.friction_per_ps,
                           "timestep_fs": recipe.timestep_fs}, "constraints": None}


def _replica_facts(md: LocalMD) -> dict:
    return {"backend": md.backend, "precision": "double",
            "replicas": dict(zip(SPLITS, md.replicas)), "starts": list(md.starts),
            "start_minimization": f"OpenMM LocalEnergyMinimizer (tol {START_MINIMIZE_TOLERANCE:g} kJ/mol/nm, "
                                  f"{START_MINIMIZE_ITERATIONS} it), Reference platform",
            "warmup_ps_per_replica": md.warmup_steps / 1000, "recorded_ps_per_replica": md.replica_ps,
            "frame_interval_ps": md.frame_interval_steps / 1000, "frames_per_replica": md.frames_per_replica,
            "simulated_ns_total": round(md.total_steps / 1e6, 4)}


def _manifest(folders: list[Path]) -> tuple[Path | None, dict]:
    """The first folder among ``folders`` holding a manifest, and that manifest."""
    for folder in folders:
        m = store.read_manifest(folder)
        if m:
            return folder, m
    return None, {}


def _hashes(manifest: dict) -> dict | None:
    return {Path(k).name: v["sha256"] for k, v in manifest.get("files", {}).items()} or None


def folded_fraction(positions: np.ndarray, system) -> float:
    """Fraction of frames whose FOLD_PAIRS CA-CA distances are all below FOLD_CUTOFF_NM."""
    ca = {int(system.residue_index[i]) + 1: i for i, name in enumerate(system.atom_names) if name == "CA"}
    x = np.asarray(positions, dtype=np.float64)
    d = np.stack([np.linalg.norm(x[:, ca[a]] - x[:, ca[b]], axis=-1) for a, b in FOLD_PAIRS], axis=1)
    return float((d < FOLD_CUTOFF_NM).all(axis=1).mean())


def _population_rows(pops: dict) -> list[tuple[str, str, list, list | None, float | None]]:
    """(residue, state, [train mean, se], [test mean, se], z) for every state populated at all (> 0.5 %)."""
    rows = []
    train, test = pops.get("train", {}), pops.get("test", {})
    for res, states in train.items():
        for state, tr in states.items():
            te = test.get(res, {}).get(state)
            if max(tr[0], te[0] if te else 0.0) < 0.005:
                continue
            err = float(np.hypot(tr[1] or 0.0, (te[1] or 0.0) if te else 0.0))
            z = None if te is None or err == 0 else (tr[0] - te[0]) / err
            rows.append((res, state, tr, te, z))
    return rows


def _population_table(rows: list) -> str:
    fmt = lambda p: "n/a" if p is None else f"{p[0]:.3f} ± {p[1]:.3f}"  # noqa: E731
    lines = [f"| {res} | {state} | {fmt(tr)} | {fmt(te)} | {'' if z is None else f'{z:+.1f}'} |"
             for res, state, tr, te, z in rows]
    return "| residue | basin | train | test | z |\n|---|---|---|---|---|\n" + "\n".join(lines) + "\n"


def _system_facts(task: Task, spec, roots: list[Path | None]) -> tuple[dict, str]:
    system = spec.build()
    facts = {"sequence": spec.sequence, "termini": spec.termini, "atoms": system.n_atoms}
    folder, m = _manifest([store.system_dir(task.name, "quick", spec.name, r) for r in roots])
    if not m:
        return facts, (f"\n### {spec.name}\n\nNo copy of this data was cached where the card was rendered, so its "
                       "hashes, basin populations and noise floor are not listed (and `bgbench data info --check` "
                       f"fails): run `bgbench data prepare {task.name} --tier quick`, then `bgbench data cards`.\n")
    facts.update(hashes_sha256=_hashes(m), std_nm=m.get("std_nm"), n_frames=m.get("n_frames"),
                 generation_seconds=m.get("generation_seconds"), generation_cpu_seconds=m.get("generation_cpu_seconds"),
                 md_backend=m.get("md_backend"),
                 basin_populations=m.get("basin_populations"))
    pops = m.get("basin_populations", {})
    body = ""
    if "train" in pops and "test" in pops:
        rows = _population_rows(pops)
        zs = [abs(z) for *_, z in rows if z is not None]
        facts["max_abs_z_train_vs_test"] = round(max(zs), 2) if zs else 0.0
        body += (f"\n### {spec.name}: backbone basin populations, train vs test\n\nMean over replicas ± standard error "
                 "(one block per replica; replicas are independent). z = (train - test) / combined error.\n\n"
                 + _population_table(rows))
    root = folder.parents[2]  # folder = root / task / tier / system
    floor = cached_noise_floor(task, "quick", spec, data_dir=root)
    facts["noise_floor"] = {"samples_per_half": floor["num_samples_per_half"],
                            **{k: round(v, 4) for k, v in floor["metrics"].items()}}
    body += (f"\n### {spec.name}: noise floor\n\nEvery metric between two independent halves of the test replicas "
             f"({floor['num_samples_per_half']} samples each, {FLOOR_SPLIT}): scores closer than this to each other, or "
             "to it, are not distinguishable.\n\n| metric | floor |\n|---|---|\n"
             + "".join(f"| {k} | {v:.4g} |\n" for k, v in floor["metrics"].items()))
    if task.name == "CHIGNOLIN":
        ref = load_reference(task, "quick", spec, root)
        everything = np.concatenate([ref.train_positions(), ref.val_positions(), ref.test_positions])
        facts["folded_fraction"] = {"criterion": f"CA-CA distances D3-T8 and Y2-W9 both below {FOLD_CUTOFF_NM} nm",
                                    "all_frames": round(folded_fraction(everything, system), 4),
                                    "test": round(folded_fraction(ref.test_positions, system), 4)}
        body += (f"\nFolded fraction (both cross-strand CA-CA distances D3-T8 and Y2-W9 below {FOLD_CUTOFF_NM} nm): "
                 f"{facts['folded_fraction']['all_frames']:.3f} of all frames, {facts['folded_fraction']['test']:.3f} of "
                 "the test split. The replicas start from extended, helical and PII backbones and are far shorter "
                 "than folding (microseconds): this reference is **not** the folded ensemble of chignolin.\n")
    return facts, body


def quick_cards(out: Path, roots: list[Path | None]) -> list[Path]:
    paths = []
    for task in TASKS.values():
        protocol = task.protocol("quick")
        md = protocol.local_md
        specs = task.systems_for("quick")
        systems, sections = {}, ""
        for spec in specs:
            systems[spec.name], section = _system_facts(task, spec, roots)
            sections += section
        front = {"name": f"bgbench quick reference: {task.name}", "source": "local-md", "task": task.name,
                 "task_version": task.version, "tier": "quick", **_md_facts(specs[0].forcefield),
                 "replica_md": _replica_facts(md),
                 "splits": "disjoint sets of replicas: train, val, test (each split has the same start pattern)",
                 "evaluation_samples": protocol.n_eval_samples,
                 "evaluation_rule": "test frames (replicas in order), every floor(T / n)-th frame, first n",
                 "std": "std of per-frame centred train coordinates" if not task.transferable else "quick training corpus std",
                 "command": f"bgbench data prepare {task.name} --tier quick", "seed": 0, "systems": systems}
        body = (f"# Quick-tier reference data: {task.name}\n\n{task.description}. Each system ({', '.join(systems)}) is "
                f"simulated as {md.n_replicas} independent Langevin replicas in double precision ({md.backend}): "
                f"{md.replicas[0]} for training, {md.replicas[1]} for validation and {md.replicas[2]} for testing. "
                f"Every replica starts from the built structure with its backbone dihedrals set to one of "
                f"{', '.join(md.starts)} (the pattern of benchmark/data/starts.py, the same in every split), is "
                f"minimised briefly, warmed up for {md.warmup_steps / 1000:g} ps (discarded), then records "
                f"{md.frames_per_replica} frames every {md.frame_interval_steps / 1000:g} ps. Why replicas: one "
                "trajectory cut into time blocks gave training and test blocks with different basin populations, so "
                "small score differences meant nothing. The test split, thinned evenly to "
                f"{protocol.n_eval_samples} frames, is the evaluation reference; the TICA model of the metrics is "
                "fitted on the test replicas (lag 100 frames, no pair spans two replicas). `generation_seconds` is the "
                "wall time of the MD when the cached copy was made here (2 CPU cores shared with other jobs, at nice 10), "
                "`generation_cpu_seconds` the CPU time it used (all worker processes; what a quiet 2-core machine "
                "needs about half of).\n"
                + sections + "\n" + QUICK_LIMITS)
        paths.append(out / f"quick-{task.name}.md")
        _write(paths[-1], front, body)
    return paths


def published_cards(out: Path) -> list[Path]:
    paths = []
    for task in TASKS.values():
        spec0 = task.systems[0]
        front = {"source": "published", "task": task.name, "task_version": task.version, "tier": "paper",
                 "energy_definition": _md_facts(spec0.forcefield),
                 "hashes_sha256": "recorded in the cache manifest at import (the data cannot be downloaded where bgbench is built)",
                 "command": f"bgbench data fetch {task.name}  |  bgbench data import {task.name} --from DIR"}
        if task.transferable:
            n = len(spec0.sequence)
            front.update(name=f"ManyPeptidesMD {n}AA evaluation sets", hub_repo=MANY_REPO,
                         files=[f"trajectories_subsampled/{{val,test}}/{n}AA/{{SEQ}}_subsampled.npz",
                                "pdb_tarfiles/{val,test}.tar"],
                         npz_keys=["positions (n, N, 3) nm", "tica_projection (F, max_dim)", "tica_mean (F,)", "tica_dim"],
                         test_sequences=[s.sequence for s in task.systems],
                         val_sequences=[s.sequence for s in task.validation_systems],
                         std_nm=PUBLISHED_TRANSFER_STD, simulated_length_ns="not published (see limits)",
                         md_settings="md-runner: minimise, 50 ps warm-up, 1 ps frames, amber14 + OBC1, 310 K")
            body = (f"# ManyPeptidesMD {n}AA (published)\n\nEvaluation reference for the {n}-residue transfer task: "
                    f"the first {task.protocol('paper').n_eval_samples} frames of each peptide's npz, with the published "
                    "TICA model, whose features are computed in the atom order of the published PDB. Training uses the "
                    "webdataset shards (not copied; read in place).\n\n## Limits\n\n"
                    "- Frame counts per npz, the trajectory length and stride behind them and the TICA lag / weighting are "
                    "not published.\n- The 8AA TICA files were replaced upstream on 15 Dec 2025 (a CA-only selection was "
                    "wrong); bgbench checks the TICA feature count against the topology and refuses files that differ from "
                    "the cached copy unless `--replace` is given.\n- Loaders are tested on fixtures in the published layout, "
                    "not on the real files.\n")
            paths.append(out / f"published-{n}AA.md")
        else:
            name = single_system_name(spec0)
            front.update(name=f"{name} (single-system data set)", hub_repo=SINGLE_REPO,
                         files=[f"{name}/{name}_{{train,val,test}}.npy", f"{name}/{name}.pdb"],
                         simulated_length_ns="not published", frames="not published",
                         std="computed at import from the train split (per-frame centred, Bessel-corrected)")
            body = (f"# {name} (published)\n\n{task.description}. Evaluation reference: the test split subsampled with "
                    f"stride floor(T / {task.protocol('paper').n_eval_samples}); TICA fitted on the full test split "
                    "(lag 100 frames).\n\n## Limits\n\n- The MD settings that produced these trajectories are not in the "
                    "published code; only the energy definition is.\n- Atom order is mapped to bgbench's topology by "
                    "(residue, atom name) at import.\n- Loaders are tested on fixtures in the published layout, not on the "
                    "real files.\n")
            paths.append(out / f"published-{task.name}.md")
        _write(paths[-1], front, body)
    return paths


def corpus_card(out: Path, roots: list[Path | None]) -> Path:
    seqs = corpus_sequences()
    md = CORPUS_MD
    _, m = _manifest([store.corpus_dir("quick", r) for r in roots])
    n_frames = len(seqs) * md.replicas[0] * md.frames_per_replica
    front = {"name": "bgbench quick training corpus", "source": "local-md", "tier": "quick",
             **_md_facts(corpus_spec("AA").forcefield), "replica_md": _replica_facts(md),
             "sequences": seqs, "count": len(seqs), "lengths": sorted({len(s) for s in seqs}),
             "frames_total": n_frames, "held_out": "none is a published ManyPeptidesMD val/test peptide",
             "command": "bgbench data prepare-corpus --tier quick", "settings_sha256": corpus_settings_sha256()}
    if m:
        front.update(hashes_sha256=_hashes(m), std_nm=m.get("std_nm"), generation_seconds=m.get("generation_seconds"),
                     generation_cpu_seconds=m.get("generation_cpu_seconds"))
    body = (f"# Quick-tier training corpus\n\nA fixed, seeded set of {len(seqs)} peptides of lengths "
            f"{min(len(s) for s in seqs)}-{max(len(s) for s in seqs)} (none a published evaluation peptide), each simulated "
            f"as {md.replicas[0]} independent replicas ({md.warmup_steps / 1000:g} ps warm-up discarded, then "
            f"{md.frames_per_replica} frames every {md.frame_interval_steps / 1000:g} ps) with the ManyPeptidesMD recipe. "
            "Its std is the standardisation scale of the quick tier of 2AA / 4AA / 8AA. Methods read it with "
            "`benchmark.data.open_training_corpus(\"quick\")`, one peptide at a time; its `content_hash` keys trained "
            "weights. `generation_seconds` is the wall time measured here (2 CPU cores shared with other jobs).\n\n"
            "## What a model trained on it can and cannot show\n\n"
            f"- It can show that a transferable method trains end to end, conditions on sequences it has seen, and "
            f"produces valid, low-energy conformations of short peptides: {n_frames} frames of {len(seqs)} peptides "
            "cover local structure (bond lengths, angles, side-chain rotamers near their starts, backbone basins of the "
            "fast kind).\n"
            f"- It cannot show transfer the way the papers measure it: ManyPeptidesMD trains on ~21 700 peptides "
            f"with ~200 ns each; here {len(seqs)} peptides with {md.replica_ps * md.replicas[0]:g} ps each cannot cover "
            "sequence space, and a model's scores on the unseen 2AA / 4AA / 8AA test peptides mostly measure how "
            "little it saw. Use quick-tier transferable numbers to compare methods trained on this same corpus, never "
            "with paper numbers.\n- Frames are correlated and unconverged (see the quick reference cards).\n")
    path = out / CORPUS_CARD
    _write(path, front, body)
    return path


def _write(path: Path, front: dict, body: str) -> None:
    atomic_write_text(path, "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + body)


def write_cards(out: Path, root: Path | list[Path | None] | None = None) -> list[Path]:
    """Render every card into ``out``; facts of data cached under ``root`` (one or several) are included."""
    out.mkdir(parents=True, exist_ok=True)
    roots = root if isinstance(root, list) else [root]
    return quick_cards(out, roots) + published_cards(out) + [corpus_card(out, roots)]


def read_front(path: Path) -> dict:
    """The YAML front matter of a card."""
    text = path.read_text()
    if not text.startswith("---\n"):
        raise DataError(f"{path} has no YAML front matter.")
    return yaml.safe_load(text.split("---\n", 2)[1]) or {}


CORPUS_CARD = "quick-training-corpus.md"


def card_corpus_hash(cards_dir: Path | None = None) -> str | None:
    """The quick corpus's content hash as its committed card records it; None when the card has no hashes
    or was made for other corpus settings than the code's (a stale card names no data)."""
    path = (cards_dir or CARDS_DIR) / CORPUS_CARD
    if not path.is_file():
        return None
    front = read_front(path)
    if front.get("settings_sha256") != corpus_settings_sha256() or not front.get("hashes_sha256"):
        return None
    return quick_content_hash(front["hashes_sha256"])


def card_hashes(task: str, cards_dir: Path | None = None) -> dict[str, dict[str, str]] | None:
    """{system: {file: sha256}} of a task's quick card, or None if the card is missing or has no hashes."""
    path = (cards_dir or CARDS_DIR) / f"quick-{task}.md"
    if not path.is_file():
        return None
    systems = read_front(path).get("systems") or {}
    hashes = {name: facts.get("hashes_sha256") for name, facts in systems.items() if facts.get("hashes_sha256")}
    return hashes or None


__all__ = ["CARDS_DIR", "CORPUS_CARD", "card_corpus_hash", "card_hashes", "folded_fraction", "read_front", "write_cards"]
