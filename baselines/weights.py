"""The one index of published checkpoints that bgbench's reference methods can load.

``benchmark.weights.published`` imports this module (lazily) to fill its registry, so that
``bgbench weights fetch|import NAME`` knows every file. A family with released weights adds one
``register(PublishedWeights(...))`` call per file here: bgbench's name, the method that loads it,
the hub repository and path, a description, and the spec section that fixes its state-dict keys
(its ``Layout`` lives with the family). Keep the entries here, not in the families, so that listing
published weights never imports a model.

Entries: ROBIN's released checkpoint, the single-system TarFlows of SBG, the single-system and the transferable
(up_to_4aa) ECNF++, Prose and the transferable TarFlow.
"""

from __future__ import annotations

from benchmark.weights.published import PublishedWeights, register

register(PublishedWeights(
    name="robin",
    method="robin",
    hub_repo="danyalrehman17/robin-transferable",
    filename="robin.ckpt",
    description="ROBIN, the transferable ARBG (132.0 M parameters, 2-8 residues, ManyPeptidesMD); a Lightning .ckpt",
    layout="specs/autoregressive.md 9.3 (baselines/robin/layout.py)",
))

MODEL_WEIGHTS_REPO = "transferable-samplers/model-weights"

# --- single-system TarFlow (SBG), spec flows 5.3: one file per system and training seed (_0 is the default) ---
TARFLOW_SYSTEMS = {"ALDP": "Ace-A-Nme", "AL3": "AAA", "AL4": "Ace-AAA-Nme", "AL6": "AAAAAA", "CHIGNOLIN": "GYDPETGTWG"}
for _task, _sequence in TARFLOW_SYSTEMS.items():
    for _seed in (0, 1, 2):
        register(PublishedWeights(
            name=f"tarflow_{_sequence}_{_seed}", method="tarflow", hub_repo=MODEL_WEIGHTS_REPO,
            filename=f"single_system/tarflow_{_sequence}_{_seed}.pth",
            description=f"SBG single-system TarFlow of {_task} ({_sequence}), training seed {_seed}; "
                        f"loaded by `--method tarflow --config weights=published --seed {_seed}`",
            layout="specs/flows-and-protocol.md 5.3 (baselines/tarflow/published.py)"))

# --- single-system ECNF++, spec flows 5.4: one file per system and training seed ('+' is not a bgbench name character) ---
ECNF_SYSTEMS = {"ALDP": "Ace-A-Nme", "AL3": "AAA", "AL4": "Ace-AAA-Nme", "AL6": "AAAAAA"}
for _task, _sequence in ECNF_SYSTEMS.items():
    for _seed in (0, 1, 2):
        register(PublishedWeights(
            name=f"ecnfpp_{_sequence}_{_seed}", method="ecnf", hub_repo=MODEL_WEIGHTS_REPO,
            filename=f"single_system/ecnf++_{_sequence}_{_seed}.pth",
            description=f"ECNF++ single-system vector field of {_task} ({_sequence}), training seed {_seed}; "
                        f"loaded by `--method ecnf --tier paper --config weights=published --seed {_seed}`",
            layout="specs/flows-and-protocol.md 5.4 (baselines/ecnf/published.py)"))

register(PublishedWeights(
    name="ecnfpp_up_to_4aa", method="ecnf-transferable", hub_repo=MODEL_WEIGHTS_REPO,
    filename="transferable/ecnf++_up_to_4aa.pth",
    description="Transferable ECNF++ vector field (4.19 M parameters, 2-4 residues, ManyPeptidesMD); loaded by "
                "`--method ecnf-transferable --tier paper`",
    layout="specs/flows-and-protocol.md 5.4 (baselines/ecnf/published.py)"))

# --- Prose and the transferable TarFlow, spec flows 5.1 / 5.2: one model for peptides of 2 to 8 residues ---
register(PublishedWeights(
    name="prose_up_to_8aa", method="prose", hub_repo=MODEL_WEIGHTS_REPO, filename="transferable/prose_up_to_8aa.pth",
    description="Prose, the transferable TarFlow with adaptive LayerNorm (288.1 M parameters, 2-8 residues, "
                "ManyPeptidesMD); loaded by `--method prose --tier paper`",
    layout="specs/flows-and-protocol.md 5.1 (baselines/prose/published.py)"))
register(PublishedWeights(
    name="tarflow_up_to_8aa", method="tarflow-transferable", hub_repo=MODEL_WEIGHTS_REPO,
    filename="transferable/tarflow_up_to_8aa.pth",
    description="Transferable TarFlow (115.7 M parameters, 2-8 residues, ManyPeptidesMD); loaded by "
                "`--method tarflow-transferable --tier paper`",
    layout="specs/flows-and-protocol.md 5.2 (baselines/prose/published.py)"))
