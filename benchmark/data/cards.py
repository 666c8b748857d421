"""Data cards: one Markdown file per dataset, YAML front matter with the machine-readable facts.

Cards are rendered from the task registry (settings) and, where data is cached, its manifest
(hashes, frames, std, generation time), so they cannot drift from what the code does.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmark.data import store
from benchmark.io import atomic_write_text
from benchmark.data.corpus import CORPUS_MD, corpus_dir, corpus_sequences
from benchmark.data.generate import platform_for, split_blocks
from benchmark.data.published import MANY_REPO, SINGLE_REPO, single_system_name
from benchmark.data.reference import PUBLISHED_TRANSFER_STD
from benchmark.systems import ForceFieldRecipe
from benchmark.tasks import TASKS

SOLVENT = {"amber14-obc1": "implicit, OBC1 generalized Born (implicit/obc1.xml, CustomGBForce)",
           "amber99sbildn-obc": "implicit, OBC GBSA (amber99_obc.xml, GBSAOBCForce)"}

QUICK_LIMITS = """## Limits

- Quick-tier data is short, local MD: it is **not converged**. Slow modes (backbone isomerisations, the
  positive-phi states of alanine dipeptide, folding of longer peptides) are under-sampled or missing, and
  consecutive frames are strongly correlated.
- The three splits are contiguous time blocks of one trajectory, so train, validation and test are not
  independent samples of the Boltzmann distribution; the test block is the evaluation reference.
- Numbers measured against this data are **not comparable with paper numbers**; they are for checking a
  method end to end on a small machine and for comparing methods within bgbench's quick tier.
- Hashes are those produced here (OpenMM {openmm}, this CPU); the same seed on another build or CPU may
  give a different, equally valid trajectory.
"""


def _md_facts(recipe: ForceFieldRecipe) -> dict:
    return {"force_field": list(recipe.files), "solvent_model": SOLVENT.get(recipe.name, recipe.name),
            "nonbonded": f"{recipe.nonbonded_method}" + (f" {recipe.cutoff_nm} nm" if recipe.cutoff_nm else ""),
            "temperature_K": recipe.temperature_K,
            "integrator": {"type": "LangevinMiddleIntegrator", "friction_per_ps": recipe.friction_per_ps,
                           "timestep_fs": recipe.timestep_fs}, "constraints": None}


def _cached(folders: list[Path]) -> dict:
    """Facts from the first manifest among ``folders`` (hashes, frames, std, seconds it took here)."""
    m = next((m for m in map(store.read_manifest, folders) if m), {})
    out = {"hashes_sha256": {Path(k).name: v["sha256"] for k, v in m.get("files", {}).items()} or None}
    for key in ("std_nm", "generation_seconds", "n_frames"):
        if key in m:
            out[key] = m[key]
    return out


def _write(path: Path, front: dict, body: str) -> None:
    atomic_write_text(path, "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + body)


def quick_cards(out: Path, roots: list[Path | None]) -> list[Path]:
    paths = []
    for task in TASKS.values():
        md = task.protocol("quick").local_md
        specs = task.systems_for("quick")
        blocks = split_blocks(md.n_frames, md.split_fractions)
        systems = {}
        for spec in specs:
            systems[spec.name] = {"sequence": spec.sequence, "termini": spec.termini, "atoms": spec.build().n_atoms,
                                  "platform": platform_for(spec), **_cached([store.system_dir(task.name, "quick", spec.name, r) for r in roots])}
        front = {"name": f"bgbench quick reference: {task.name}", "source": "local-md", "task": task.name,
                 "task_version": task.version, "tier": "quick", **_md_facts(specs[0].forcefield),
                 "minimization": "OpenMM LocalEnergyMinimizer (tol 1 kJ/mol/nm, 5000 it) from the built structure",
                 "warmup_ps": md.warmup_steps * specs[0].forcefield.timestep_fs / 1000,
                 "simulated_length_ns": md.length_ns, "frame_interval_ps": md.frame_interval_steps / 1000,
                 "frames": md.n_frames, "splits": {k: list(v) for k, v in blocks.items()},
                 "evaluation_samples": task.protocol("quick").n_eval_samples,
                 "std": "std of per-frame centred train coordinates" if not task.transferable else "quick training corpus std",
                 "command": f"bgbench data prepare {task.name} --tier quick", "seed": 0, "systems": systems}
        body = (f"# Quick-tier reference data: {task.name}\n\n{task.description}. One seeded Langevin trajectory per "
                f"system ({', '.join(systems)}), minimised and warmed up first, frames every "
                f"{md.frame_interval_steps} steps, split into contiguous train / val / test blocks "
                f"{md.split_fractions}. The test block, subsampled evenly to "
                f"{task.protocol('quick').n_eval_samples} frames, is the evaluation reference. `generation_seconds` "
                "is the wall time of the MD measured when the cached copy was made (2 CPU cores shared with other "
                "jobs). MD runs on the OpenMM platform named per system (Reference, or CPU with one thread and "
                "deterministic forces), both repeatable for a seed.\n\n"
                + QUICK_LIMITS.format(openmm=_openmm()))
        paths.append(out / f"quick-{task.name}.md")
        _write(paths[-1], front, body)
    return paths


def _openmm() -> str:
    import openmm

    return openmm.__version__


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
                    "TICA model. Training uses the webdataset shards (not copied; read in place).\n\n## Limits\n\n"
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
    front = {"name": "bgbench quick training corpus", "source": "local-md", "tier": "quick",
             **_md_facts(TASKS["8AA"].systems[0].forcefield), "sequences": seqs, "count": len(seqs),
             "lengths": sorted({len(s) for s in seqs}), "warmup_ps": CORPUS_MD.warmup_steps / 1000,
             "simulated_length_ns_per_sequence": CORPUS_MD.length_ns, "frame_interval_ps": CORPUS_MD.frame_interval_steps / 1000,
             "frames_per_sequence": CORPUS_MD.n_frames, "held_out": "none is a published ManyPeptidesMD val/test peptide",
             "command": "bgbench data prepare-corpus --tier quick", **_cached([corpus_dir("quick", r) for r in roots])}
    body = ("# Quick-tier training corpus\n\nA fixed, seeded set of short peptides (two per length 2-8) simulated briefly "
            "so that transferable methods can be trained end to end on a laptop. Its std is the standardisation scale "
            "of the quick tier of 2AA / 4AA / 8AA. `generation_seconds` is the wall time measured here (2 CPU cores "
            "shared with other jobs).\n\n## Limits\n\n- Tiny: "
            f"{len(seqs)} peptides x {CORPUS_MD.n_frames} frames of {CORPUS_MD.length_ns * 1000:g} ps each, versus "
            "~21 700 peptides in ManyPeptidesMD. Models trained on it will not transfer well; it checks that training "
            "runs, not how good a method is.\n- Unconverged, strongly correlated frames; not comparable with paper numbers.\n")
    path = out / "quick-training-corpus.md"
    _write(path, front, body)
    return path


def write_cards(out: Path, root: Path | list[Path] | None = None) -> list[Path]:
    """Render every card into ``out``; facts of data cached under ``root`` (one or several) are included."""
    out.mkdir(parents=True, exist_ok=True)
    roots = root if isinstance(root, list) else [root]
    return quick_cards(out, roots) + published_cards(out) + [corpus_card(out, roots)]
