"""The one index of published checkpoints that bgbench's reference methods can load.

``benchmark.weights.published`` imports this module (lazily) to fill its registry, so that
``bgbench weights fetch|import NAME`` knows every file. A family with released weights adds one
``register(PublishedWeights(...))`` call per file here: bgbench's name, the method that loads it,
the hub repository and path, a description, and the spec section that fixes its state-dict keys
(its ``Layout`` lives with the family). Keep the entries here, not in the families, so that listing
published weights never imports a model.

Still to come: Prose, TarFlow and ECNF++ (transferable-samplers/model-weights), added by their families.
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
